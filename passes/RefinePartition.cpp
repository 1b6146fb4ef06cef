//===- passes/RefinePartition.cpp - Plans checked against their stages ----===//
//
// A correction scales every op of a measured stage by one factor per
// direction (forward, backward), so the corrected costs of that partition
// sum to its measurements exactly, while a later partition that moves a
// boundary mixes the factors of the stages it takes ops from. Rounds stop
// when a plan comes back: choosing again on costs that reproduce a plan's
// measurements returns it unless another is predicted faster, so a plan that
// agrees with its measurement and is still the best on them ends the loop.
// Plans within 2% of the fastest measured slowest stage count as tied (that
// is the noise of timing on a shared machine), and the evenest of them wins.
// Seeded partitions (RefineOptions::seeds) are measured first and compete
// like any round. The chosen round is applied last, so the costs
// pipeline.json records are its stages'.
//
//===----------------------------------------------------------------------===//
#include "passes/RefinePartition.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace ppc;

namespace {

double slowestOf(const std::vector<StageCost> &costs) {
  double slowest = 0;
  for (const StageCost &c : costs)
    slowest = std::max(slowest, c.totalMs());
  return slowest;
}

/// Measured compute plus the predicted communication (which measuring a
/// stage alone cannot see).
double measuredSlowest(const std::vector<StageCost> &predicted,
                       const std::vector<StageMeasurement> &measured, bool training) {
  double slowest = 0;
  for (size_t k = 0; k < predicted.size(); ++k) {
    double compute = measured[k].forwardMs + (training ? measured[k].backwardMs : 0);
    slowest = std::max(slowest, compute + predicted[k].commMs);
  }
  return slowest;
}

/// Scales ops [a, b) so that `field` sums to `target`; spread evenly when
/// the ops predicted nothing.
void scaleOps(Graph &g, unsigned a, unsigned b, double OpCost::*field, double target) {
  double sum = 0;
  for (unsigned i = a; i < b; ++i)
    sum += g.ops()[i]->cost.*field;
  for (unsigned i = a; i < b; ++i) {
    double &t = g.ops()[i]->cost.*field;
    t = sum > 0 ? t * target / sum : target / double(b - a);
  }
}

/// Scales the activation bytes of stage c's ops to its measurement, starting
/// from the partitioner's count where none was measured before.
void scaleActivations(Graph &g, const StageCost &c, double measured) {
  for (unsigned i = c.firstOp; i < c.endOp; ++i)
    g.ops()[i]->cost.activationBytes = opActivationBytes(*g.ops()[i]);
  scaleOps(g, c.firstOp, c.endOp, &OpCost::activationBytes, measured);
}

/// Scales what stage c's ops keep between I and W to its measurement,
/// starting from their activations where none was measured before.
void scaleWeightKept(Graph &g, const StageCost &c, double measured) {
  for (unsigned i = c.firstOp; i < c.endOp; ++i)
    if (g.ops()[i]->cost.weightKeptBytes < 0)
      g.ops()[i]->cost.weightKeptBytes = opActivationBytes(*g.ops()[i]);
  scaleOps(g, c.firstOp, c.endOp, &OpCost::weightKeptBytes, measured);
}

/// Splits the backward of stage c's ops into I and W as measured, starting
/// from halves where none was measured before.
void scaleInputGrads(Graph &g, const StageCost &c, double measured) {
  for (unsigned i = c.firstOp; i < c.endOp; ++i)
    if (g.ops()[i]->cost.inputGradMs < 0)
      g.ops()[i]->cost.inputGradMs = g.ops()[i]->cost.backwardMs / 2;
  scaleOps(g, c.firstOp, c.endOp, &OpCost::inputGradMs, measured);
}

void applyMeasurements(Graph &g, const RefineRound &round, bool training) {
  for (size_t k = 0; k < round.predicted.size(); ++k) {
    const StageCost &c = round.predicted[k];
    const StageMeasurement &m = round.measured[k];
    scaleOps(g, c.firstOp, c.endOp, &OpCost::timeMs, m.forwardMs);
    if (training)
      scaleOps(g, c.firstOp, c.endOp, &OpCost::backwardMs, m.backwardMs);
    if (m.activationBytes >= 0)
      scaleActivations(g, c, m.activationBytes);
    if (training && m.inputGradMs >= 0)
      scaleInputGrads(g, c, m.inputGradMs);
    if (training && m.weightKeptBytes >= 0)
      scaleWeightKept(g, c, m.weightKeptBytes);
  }
}

double sumOfSquares(const RefineRound &round, bool training) {
  double sum = 0;
  for (size_t k = 0; k < round.measured.size(); ++k) {
    double w = round.measured[k].forwardMs + (training ? round.measured[k].backwardMs : 0) +
               round.predicted[k].commMs;
    sum += w * w;
  }
  return sum;
}

/// The round with the fastest measured slowest stage; among those within
/// the noise of it (an indivisible head or embedding makes many plans tie on
/// the slowest stage), the one whose stages are evenest.
size_t chooseRound(const std::vector<RefineRound> &rounds, bool training) {
  constexpr double kNoise = 0.02;
  double fastest = std::numeric_limits<double>::infinity();
  for (const RefineRound &r : rounds)
    fastest = std::min(fastest, r.measuredSlowestMs);
  size_t chosen = 0;
  double evenest = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < rounds.size(); ++i) {
    if (rounds[i].measuredSlowestMs > fastest * (1 + kNoise))
      continue;
    double spread = sumOfSquares(rounds[i], training);
    if (spread < evenest) {
      evenest = spread;
      chosen = i;
    }
  }
  return chosen;
}

/// Measures the partition `splits` and corrects the op costs by it.
RefineRound measureRound(Graph &g, const PartitionOptions &opts, std::vector<SplitPoint> splits,
                         const MeasureStagesFn &measure) {
  RefineRound round;
  round.positions = splitPositions(g, splits);
  round.splits = std::move(splits);
  round.predicted = partitionCosts(g, round.positions, opts);
  round.measured = measure(round.positions);
  round.predictedSlowestMs = slowestOf(round.predicted);
  round.measuredSlowestMs = measuredSlowest(round.predicted, round.measured, opts.training);
  applyMeasurements(g, round, opts.training);
  return round;
}

bool measuredBefore(const RefineResult &result, const std::vector<unsigned> &positions) {
  return llvm::any_of(result.rounds,
                      [&](const RefineRound &old) { return old.positions == positions; });
}

} // namespace

bool RefineRound::converged(double tolerance) const {
  return measuredSlowestMs > 0 &&
         std::abs(predictedSlowestMs - measuredSlowestMs) <= tolerance * measuredSlowestMs;
}

RefineResult ppc::refinePartition(Graph &g, const PartitionOptions &opts,
                                  const RefineOptions &refine, const MeasureStagesFn &measure) {
  RefineResult result;
  result.tolerance = refine.tolerance;
  for (const std::vector<SplitPoint> &seed : refine.seeds) {
    if (measuredBefore(result, splitPositions(g, seed)))
      continue;
    result.rounds.push_back(measureRound(g, opts, seed, measure));
    result.rounds.back().seeded = true;
  }
  for (int r = 0; r < std::max(1, refine.maxRounds); ++r) {
    std::vector<SplitPoint> splits = choosePartition(g, opts);
    // Agreement alone does not stop: on the corrected costs another plan
    // may be faster still, and if none is, the same plan comes back.
    if (measuredBefore(result, splitPositions(g, splits)))
      break;
    result.rounds.push_back(measureRound(g, opts, std::move(splits), measure));
  }
  auto fastest = result.rounds.begin() + chooseRound(result.rounds, opts.training);
  result.chosen = size_t(fastest - result.rounds.begin());
  applyMeasurements(g, *fastest, opts.training);
  result.splits = fastest->splits;
  return result;
}

std::string ppc::formatRefinement(const RefineResult &r, bool training) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "refinement (stages measured as pprun runs them" << (training ? ", forward + backward" : "")
     << "; tolerance " << llvm::format("%.0f%%", 100 * r.tolerance) << "):\n";
  os << "round  predicted ms  measured ms  measured / predicted per stage\n";
  for (size_t i = 0; i < r.rounds.size(); ++i) {
    const RefineRound &round = r.rounds[i];
    os << llvm::format("%5zu %13.3f %12.3f  ", i + 1, round.predictedSlowestMs,
                       round.measuredSlowestMs);
    for (size_t k = 0; k < round.predicted.size(); ++k) {
      double predicted = round.predicted[k].computeMs;
      double measured = round.measured[k].forwardMs + (training ? round.measured[k].backwardMs : 0);
      os << llvm::format(" %.2f", predicted > 0 ? measured / predicted : 0.0);
    }
    os << (round.seeded ? "  (forward-balanced plan)" : "")
       << (round.converged(r.tolerance) ? "  (within tolerance)" : "")
       << (i == r.chosen ? "  <- chosen" : "") << "\n";
  }
  return os.str();
}
