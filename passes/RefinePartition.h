//===- passes/RefinePartition.h - Plans checked against their stages -*- C++ -*-===//
//
// The cost model predicts a stage as the sum of its op regions' times, but a
// stage runs as one TorchScript graph: the executor fuses and reorders across
// region boundaries, per-op overhead and cache reuse differ, so whole stages
// disagree with their sums by model- and place-dependent factors. Refinement
// closes the loop: choose a partition, measure its stages as pprun would run
// them (a callback: the measuring is LibTorch's), scale the op costs of each
// stage by measured / predicted, and choose again, until a plan comes back
// that was already measured (so its prediction is its measurement and no
// other plan is predicted faster) or the rounds run out; the tolerance says
// which rounds agreed with their prediction. The result is the
// measured plan with the fastest slowest stage, and the op costs are left so
// that its stages' predictions are its measurements. Needs op costs
// (measured or analytic) and Graph::modules, as the partitioner does.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_REFINEPARTITION_H
#define PPC_PASSES_REFINEPARTITION_H

#include "passes/Partitioner.h"

#include <functional>
#include <string>

namespace ppc {

/// One stage of a partition as it ran.
struct StageMeasurement {
  double forwardMs = 0;
  double backwardMs = 0; // measured when training
  /// Bytes a training forward keeps alive until its backward (saved tensors
  /// and outputs); -1 when not measured.
  double activationBytes = -1;
  /// Of backwardMs, the input gradients alone (zero-bubble's I; W is the
  /// rest); -1 when the backward was not split.
  double inputGradMs = -1;
  /// Of activationBytes, what is still alive between I and W (I frees what
  /// only the input gradients read); -1 when the backward was not split.
  double weightKeptBytes = -1;
};

/// Measures the stages of the partition cut at `positions` (sorted op indices).
using MeasureStagesFn =
    std::function<std::vector<StageMeasurement>(const std::vector<unsigned> &positions)>;

struct RefineOptions {
  int maxRounds = 4;       // partitions measured at most
  double tolerance = 0.05; // |predicted - measured| / measured of the slowest stage
  /// Partitions measured before the first round and kept as candidates, so
  /// the result is never one measured slower than any of them (training
  /// seeds the forward-balanced plan).
  std::vector<std::vector<SplitPoint>> seeds;
};

/// One measured partition.
struct RefineRound {
  std::vector<SplitPoint> splits;   // as the partitioner names them
  std::vector<unsigned> positions;  // their op indices
  std::vector<StageCost> predicted; // before this round's measurement corrected the costs
  std::vector<StageMeasurement> measured;
  double predictedSlowestMs = 0;
  double measuredSlowestMs = 0; // measured compute plus predicted communication
  bool seeded = false;          // from RefineOptions::seeds, not chosen by the DP
  bool converged(double tolerance) const;
};

struct RefineResult {
  std::vector<SplitPoint> splits; // of the chosen round
  std::vector<RefineRound> rounds;
  size_t chosen = 0; // index into rounds
  double tolerance = 0.05;
};

/// Chooses, measures and corrects as described above; leaves the op costs of
/// `g` matching the chosen round's measurements.
RefineResult refinePartition(Graph &g, const PartitionOptions &opts, const RefineOptions &refine,
                             const MeasureStagesFn &measure);

/// The rounds as `--print-plan` shows them: per round the split points, the
/// predicted and measured slowest stage and every stage's measured / predicted.
std::string formatRefinement(const RefineResult &r, bool training);

} // namespace ppc

#endif
