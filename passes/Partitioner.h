//===- passes/Partitioner.h - Choosing split points -------------*- C++ -*-===//
//
// Picks N-1 split points among module boundaries at every depth (never
// inside control flow, which is atomic in the IR, and never leaving a stage
// empty) so that the slowest stage's compute plus the time to move the
// values live across its two boundaries is as small as possible, optionally
// under a per-stage memory cap (parameters read plus activations of the
// microbatches the schedule keeps in flight). Solved exactly by dynamic
// programming over the candidate sequence; user splits are kept. Also the
// baselines it is compared with: DeepSpeed's `uniform` (equal numbers of
// repeated blocks) and `parameters` (balanced parameter bytes). Needs op
// costs (passes/CostModel.h or measured) and Graph::modules.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_PARTITIONER_H
#define PPC_PASSES_PARTITIONER_H

#include "ir/Graph.h"
#include "passes/CostModel.h"

#include <functional>
#include <map>

namespace ppc {

/// What a stage's weight is.
enum class Balance {
  Time,   // Op::cost.timeMs: measured, or the analytic roofline time
  Flops,  // the roofline time of Op::cost.flops and Op::cost.bytes
  Params, // parameter bytes read by the stage (DeepSpeed's default)
};

/// Whether stages keep their activations for the backward or re-run their
/// forward before it (keeping only their inputs).
enum class Recompute {
  None,
  All,
  Auto, // only the stages that need it to fit maxStageBytes
};

/// Microbatches whose activations a stage keeps at one moment: in full, and
/// (zero-bubble, between I and W) only what the weight gradients need.
struct InFlight {
  int full = 0;
  int weightOnly = 0;
  int total() const { return full + weightOnly; }
};

/// The moments where stage `stage` of `stages` may peak (one for schedules
/// without a split backward, whose peak is the most microbatches).
using InFlightFn = std::function<std::vector<InFlight>(int stage, int stages)>;

/// 1F1B and its variants keep min(S - k, M) at stage k; GPipe keeps all M.
InFlightFn inFlightFor(llvm::StringRef schedule, int microbatches);

struct PartitionOptions {
  int stages = 2;
  Balance balance = Balance::Time;
  Roofline roofline;        // for Balance::Flops
  double linkGBps = 10;     // for boundary values; 0 ignores communication
  double maxStageBytes = 0; // the stage's memory (see StageCost::memoryBytes); 0: no cap
  /// Gradients and optimizer state per parameter byte: 0 for inference, 1
  /// for SGD's gradients, 3 for Adam's (gradients and two moments).
  double stateBytesPerParamByte = 0;
  Recompute recompute = Recompute::None;
  /// pprun holds every microbatch's model outputs until the step ends.
  int microbatches = 8;
  InFlightFn inFlight = [](int k, int s) { return std::vector<InFlight>{{s - k, 0}}; };
  std::vector<SplitPoint> fixedSplits; // kept; the rest are chosen
  /// Balance forward plus backward (a training step) instead of forward
  /// alone; backward is Op::cost.backwardMs, or twice the roofline time for
  /// Balance::Flops.
  bool training = false;
};

/// Bytes an op keeps alive for the backward: measured (Op::cost), else the
/// tensors it creates (a view shares its input's storage).
double opActivationBytes(const Op &op);

/// First and last op index of every module in g.modules that runs ops at
/// the top level (modules seen only inside control flow have none).
std::map<std::string, std::pair<unsigned, unsigned>> moduleSpans(const Graph &g);

/// A position between ops where a split may go, with its readable name.
struct Candidate {
  unsigned position = 0; // the split cuts before this op index
  SplitPoint name;
};

/// Every module's begin and end, one per position, in program order: the
/// begin of the shallowest module starting there if any, else the end of the
/// shallowest module ending there. Positions 0 and the op count (which would
/// leave a stage empty) and modules seen only inside control flow are left out.
std::vector<Candidate> splitCandidates(const Graph &g);

/// What one stage of a partition costs.
struct StageCost {
  unsigned firstOp = 0, endOp = 0; // ops [firstOp, endOp)
  double forwardMs = 0;
  double backwardMs = 0;
  double inputGradMs = -1;      // I of backwardMs (W is the rest); -1 when not measured
  double computeMs = 0;         // forward, plus backward when training
  double commMs = 0;            // boundary bytes in and out at the link bandwidth
  double paramBytes = 0;        // parameters and buffers its ops read
  double paramCount = 0;        // their elements
  double activationBytes = 0;   // tensors its ops produce, views excluded
  double weightKeptBytes = 0;   // of them, what W still needs after I
  double boundaryBytesOut = 0;  // values live across its end
  double sendBytes = 0;         // values it sends, once per consumer (stageCosts only)
  double inputBytes = 0;        // values live across its start: what it receives
  double outputBytes = 0;       // model outputs it computes, per microbatch
  double lossOutputBytes = 0;   // of them model output 0, which the loss reads
  double largestParamBytes = 0; // the largest parameter it reads
  /// Parameters with their gradients and optimizer state, plus activations
  /// and received inputs of the microbatches in flight (with recompute, the
  /// inputs in flight and one microbatch's activations; model outputs but
  /// output 0 count once, as held: output 0 stands for the tensor the loss
  /// saves), the model outputs of every microbatch, and in training the largest parameter's
  /// gradient once more: autograd makes it before adding it into .grad.
  double memoryBytes = 0;
  bool recompute = false; // decided by PartitionOptions::recompute
  double totalMs() const { return computeMs + commMs; }
};

/// Per-stage costs of splitting at `positions` (sorted op indices).
std::vector<StageCost> partitionCosts(const Graph &g, const std::vector<unsigned> &positions,
                                      const PartitionOptions &opts);

/// Per-stage costs of a partitioned graph (every op has its stage; cross-stage
/// values found). The one definition of a stage's time, parameter,
/// activation and boundary bytes that the plan, the schedule simulation and
/// pipeline.json share.
std::vector<StageCost> stageCosts(const Graph &g, const PartitionOptions &opts = {});

/// What one microbatch in flight keeps of a stage's activations: model
/// outputs other than output 0 are counted as held instead.
double keptActivationBytes(const StageCost &c);

/// The same between zero-bubble's I and W.
double keptWeightBytes(const StageCost &c);

/// What a stage holds whatever the schedule: parameters with their state,
/// every microbatch's model outputs, and in training the largest gradient
/// made before it is accumulated (see StageCost::memoryBytes).
double heldBytes(const StageCost &c, const PartitionOptions &opts);

/// The value the partitioner minimises for one stage: param bytes for
/// Balance::Params, else compute + communication milliseconds (plus the
/// forward run again when a training stage recomputes).
double stageWeight(const StageCost &c, const PartitionOptions &opts);

/// The slowest stage's weight for `positions`; infinity when a stage breaks
/// the memory cap.
double partitionObjective(const Graph &g, const std::vector<unsigned> &positions,
                          const PartitionOptions &opts);

/// The optimal split points, user splits included, in program order.
/// CompileError when no partition satisfies the options.
std::vector<SplitPoint> choosePartition(const Graph &g, const PartitionOptions &opts);

/// DeepSpeed's `uniform`: equal counts (earlier stages take the remainder)
/// of the numbered children of `container`, or, when empty, of the container
/// with the most numbered children that run ops (transformer.h, layers).
std::vector<SplitPoint> uniformBlockSplit(const Graph &g, int stages,
                                          llvm::StringRef container = "");

/// DeepSpeed's default `parameters`: balanced parameter bytes.
std::vector<SplitPoint> parameterSplit(const Graph &g, int stages);

/// The op indices of split points (via PlaceSplits' rules), sorted.
std::vector<unsigned> splitPositions(const Graph &g, const std::vector<SplitPoint> &splits);

} // namespace ppc

#endif
