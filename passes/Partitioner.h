//===- passes/Partitioner.h - Choosing split points -------------*- C++ -*-===//
//
// Picks N-1 split points among module boundaries at every depth (never
// inside control flow, which is atomic in the IR) so that the slowest
// stage's compute plus the time to move the values live across its two
// boundaries is as small as possible, optionally under a per-stage memory
// cap (parameters read plus activations in flight). Solved exactly by
// dynamic programming over the candidate sequence. User splits are kept.
// Also the baselines it is compared with: DeepSpeed's `uniform` (equal
// numbers of repeated blocks) and `parameters` (balanced parameter bytes).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_PARTITIONER_H
#define PPC_PASSES_PARTITIONER_H

#include "ir/Graph.h"

#include <functional>

namespace ppc {

enum class Balance { Time, Params };

struct PartitionOptions {
  int stages = 2;
  Balance balance = Balance::Time; // Time uses Op::cost.timeMs (measured or analytic)
  double linkGBps = 10;            // for boundary values; 0 ignores communication
  double maxStageBytes = 0;        // 0: no cap
  /// Microbatches whose activations stage k keeps at once (1F1B: S - k).
  std::function<int(int stage, int stages)> inFlight = [](int k, int s) { return s - k; };
  std::vector<SplitPoint> fixedSplits;
};

/// A position between ops where a split may go, with its readable name.
struct Candidate {
  unsigned position = 0; // the split cuts before this op index
  SplitPoint name;
};

std::vector<Candidate> splitCandidates(const Graph &g);

/// What one stage of a partition costs.
struct StageCost {
  double computeMs = 0;
  double commMs = 0;
  double paramBytes = 0;
  double activationBytes = 0;
  double boundaryBytesOut = 0;
  double totalMs() const { return computeMs + commMs; }
};

/// Per-stage costs of splitting at `positions` (sorted op indices).
std::vector<StageCost> partitionCosts(const Graph &g, const std::vector<unsigned> &positions,
                                      const PartitionOptions &opts);

/// The slowest stage's objective value for `positions`.
double partitionObjective(const Graph &g, const std::vector<unsigned> &positions,
                          const PartitionOptions &opts);

/// The optimal split points (CompileError if none satisfies the options).
std::vector<SplitPoint> choosePartition(const Graph &g, const PartitionOptions &opts);

/// DeepSpeed's `uniform`: equal counts of the children of the container
/// with the most numbered children (transformer.h, layers).
std::vector<SplitPoint> uniformBlockSplit(const Graph &g, int stages);

/// DeepSpeed's default `parameters`: balanced parameter bytes.
std::vector<SplitPoint> parameterSplit(const Graph &g, int stages);

/// The op indices of split points (via PlaceSplits' rules), sorted.
std::vector<unsigned> splitPositions(const Graph &g, const std::vector<SplitPoint> &splits);

} // namespace ppc

#endif
