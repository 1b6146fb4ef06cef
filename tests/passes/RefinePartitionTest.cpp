//===- tests/passes/RefinePartitionTest.cpp - Refining plans by measuring -===//
//
// Refinement against a fake measurement: a chain of blocks whose true times
// are their predicted times times hidden factors. The chosen plan's
// predictions equal its measurements afterwards, it is never slower than the
// partitioner's first plan, it reaches the true optimum (brute force over the
// blocks) where the factors differ between the halves of the model, backward
// is corrected on its own when training, and rounds stop on agreement, on a
// repeated plan and at the bound.
//
//===----------------------------------------------------------------------===//
#include "passes/RefinePartition.h"
#include "passes/PartitionPlan.h"

#include <gtest/gtest.h>

#include <random>

using namespace ppc;

namespace {

/// Blocks b0 .. b(n-1), one op each, chained, with the given predicted times.
std::unique_ptr<Graph> chain(const std::vector<double> &predictedMs) {
  auto g = std::make_unique<Graph>();
  Value *x = g->addInput("x", "Tensor");
  x->tensor = {"float32", {4}, true};
  for (size_t i = 0; i < predictedMs.size(); ++i) {
    std::string block = "b" + std::to_string(i);
    g->modules.push_back(block);
    Op *op = g->addOp("aten::relu", block, {x}, {"Tensor"});
    op->cost.timeMs = predictedMs[i];
    op->cost.backwardMs = 2 * predictedMs[i];
    op->results[0]->tensor = {"float32", {4}, true};
    x = op->results[0];
  }
  g->addOutput(x);
  return g;
}

/// Stage times as the sum of true per-op times; counts its calls.
struct FakeStages {
  std::vector<double> trueForward, trueBackward;
  std::vector<double> trueActivation = {}; // bytes per op; empty: not measured
  std::vector<double> trueInputGrad = {};  // I per op; empty: backward not split
  int calls = 0;

  std::vector<StageMeasurement> operator()(const std::vector<unsigned> &positions) {
    ++calls;
    std::vector<unsigned> cuts{0};
    cuts.insert(cuts.end(), positions.begin(), positions.end());
    cuts.push_back(unsigned(trueForward.size()));
    std::vector<StageMeasurement> out;
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
      StageMeasurement m;
      for (unsigned i = cuts[k]; i < cuts[k + 1]; ++i) {
        m.forwardMs += trueForward[i];
        m.backwardMs += trueBackward.empty() ? 0 : trueBackward[i];
        if (!trueActivation.empty())
          m.activationBytes = std::max(0.0, m.activationBytes) + trueActivation[i];
        if (!trueInputGrad.empty())
          m.inputGradMs = std::max(0.0, m.inputGradMs) + trueInputGrad[i];
      }
      out.push_back(m);
    }
    return out;
  }

  double slowest(const std::vector<unsigned> &positions, bool training) {
    double s = 0;
    for (const StageMeasurement &m : (*this)(positions))
      s = std::max(s, m.forwardMs + (training ? m.backwardMs : 0));
    return s;
  }
};

/// The best slowest stage over every way to cut `n` blocks into `stages`.
double bruteForce(FakeStages &truth, unsigned n, int stages, bool training) {
  double best = std::numeric_limits<double>::infinity();
  std::vector<unsigned> cuts;
  std::function<void(unsigned)> search = [&](unsigned from) {
    if (int(cuts.size()) == stages - 1) {
      best = std::min(best, truth.slowest(cuts, training));
      return;
    }
    for (unsigned p = from; p < n; ++p) {
      cuts.push_back(p);
      search(p + 1);
      cuts.pop_back();
    }
  };
  search(1);
  return best;
}

PartitionOptions options(int stages, bool training = false) {
  PartitionOptions po;
  po.stages = stages;
  po.linkGBps = 0;
  po.training = training;
  return po;
}

std::vector<double> scaled(const std::vector<double> &v, const std::vector<double> &by) {
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i)
    out.push_back(v[i] * by[i]);
  return out;
}

TEST(RefinePartition, ChosenPlanPredictsItsMeasurements) {
  std::vector<double> predicted{1, 2, 3, 4, 5, 6, 7, 8};
  auto g = chain(predicted);
  FakeStages truth{scaled(predicted, {1, 1, 3, 1, 0.5, 2, 1, 1}), {}};
  RefineResult r = refinePartition(*g, options(3), {}, std::ref(truth));
  const RefineRound &chosen = r.rounds[r.chosen];
  std::vector<StageCost> now = partitionCosts(*g, chosen.positions, options(3));
  std::vector<StageMeasurement> measured = truth(chosen.positions);
  ASSERT_EQ(now.size(), measured.size());
  for (size_t k = 0; k < now.size(); ++k)
    EXPECT_NEAR(now[k].forwardMs, measured[k].forwardMs, 1e-9) << "stage " << k;
}

TEST(RefinePartition, NeverSlowerThanTheFirstPlanAndOptimalOnRandomFactors) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> cost(0.5, 5), factor(0.6, 1.8);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<double> predicted, hidden;
    for (int i = 0; i < 10; ++i) {
      predicted.push_back(cost(rng));
      hidden.push_back(factor(rng));
    }
    auto g = chain(predicted);
    FakeStages truth{scaled(predicted, hidden), {}};
    RefineOptions refine;
    refine.maxRounds = 6;
    RefineResult r = refinePartition(*g, options(3), refine, std::ref(truth));
    double chosen = truth.slowest(r.rounds[r.chosen].positions, false);
    EXPECT_LE(chosen, 1.02 * truth.slowest(r.rounds.front().positions, false)) << "trial " << trial;
    EXPECT_LE(int(r.rounds.size()), refine.maxRounds);
    EXPECT_DOUBLE_EQ(chosen, r.rounds[r.chosen].measuredSlowestMs);
  }
}

TEST(RefinePartition, FindsTheTrueOptimumWhenHalvesRunAtDifferentSpeeds) {
  // The second half runs twice as slowly as predicted (fused convolutions
  // against unfused ones, say): balanced on predictions, the last stage is slow.
  std::vector<double> predicted(12, 1.0), hidden(12, 1.0);
  std::fill(hidden.begin() + 6, hidden.end(), 2.0);
  auto g = chain(predicted);
  FakeStages truth{scaled(predicted, hidden), {}};
  RefineResult r = refinePartition(*g, options(3), {}, std::ref(truth));
  EXPECT_GT(r.rounds.size(), 1u);
  EXPECT_NEAR(truth.slowest(r.rounds[r.chosen].positions, false), bruteForce(truth, 12, 3, false),
              1e-9);
}

TEST(RefinePartition, AgreementOnTheFirstPlanStopsAfterOneRound) {
  std::vector<double> predicted{3, 1, 4, 1, 5, 9, 2, 6};
  auto g = chain(predicted);
  FakeStages truth{predicted, {}};
  RefineResult r = refinePartition(*g, options(4), {}, std::ref(truth));
  EXPECT_EQ(r.rounds.size(), 1u);
  EXPECT_EQ(truth.calls, 1);
  EXPECT_TRUE(r.rounds.front().converged(r.tolerance));
}

TEST(RefinePartition, AUniformErrorRepeatsThePlanAndStops) {
  // Every op 1.5x slower than predicted: the same plan comes back, measured once.
  std::vector<double> predicted{3, 1, 4, 1, 5, 9, 2, 6};
  auto g = chain(predicted);
  FakeStages truth{scaled(predicted, std::vector<double>(8, 1.5)), {}};
  RefineResult r = refinePartition(*g, options(3), {}, std::ref(truth));
  EXPECT_EQ(r.rounds.size(), 1u);
  EXPECT_FALSE(r.rounds.front().converged(r.tolerance));
}

TEST(RefinePartition, TrainingCorrectsBackwardOnItsOwn) {
  // Forward as predicted; backward of the last blocks (an LM head, say) 3x.
  std::vector<double> predicted(8, 1.0), backwardFactor(8, 1.0);
  std::fill(backwardFactor.begin() + 5, backwardFactor.end(), 3.0);
  auto g = chain(predicted);
  std::vector<double> trueBackward = scaled(std::vector<double>(8, 2.0), backwardFactor);
  FakeStages truth{predicted, trueBackward};
  RefineResult r = refinePartition(*g, options(2, true), {}, std::ref(truth));
  const RefineRound &chosen = r.rounds[r.chosen];
  EXPECT_NEAR(truth.slowest(chosen.positions, true), bruteForce(truth, 8, 2, true), 1e-9);
  std::vector<StageCost> now = partitionCosts(*g, chosen.positions, options(2, true));
  std::vector<StageMeasurement> measured = truth(chosen.positions);
  for (size_t k = 0; k < now.size(); ++k) {
    EXPECT_NEAR(now[k].forwardMs, measured[k].forwardMs, 1e-9);
    EXPECT_NEAR(now[k].backwardMs, measured[k].backwardMs, 1e-9);
  }
  EXPECT_NE(formatRefinement(r, true).find("<- chosen"), std::string::npos);
}

TEST(RefinePartition, ASeededPlanCompetesAndIsKeptWhenMeasuredFastest) {
  // Predictions say the blocks are equal, but the second half is twice as
  // slow; one round alone takes the even split. The seed cuts at the true
  // optimum, is measured first, marked, and wins.
  std::vector<double> predicted(12, 1.0), hidden(12, 1.0);
  std::fill(hidden.begin() + 6, hidden.end(), 2.0);
  auto g = chain(predicted);
  FakeStages truth{scaled(predicted, hidden), {}};
  RefineOptions refine;
  refine.maxRounds = 1;
  refine.seeds.push_back({SplitPoint{"b8", false}});
  RefineResult r = refinePartition(*g, options(2), refine, std::ref(truth));
  ASSERT_EQ(r.rounds.size(), 2u);
  EXPECT_TRUE(r.rounds[0].seeded);
  EXPECT_FALSE(r.rounds[1].seeded);
  EXPECT_EQ(r.chosen, 0u);
  EXPECT_NEAR(truth.slowest(r.rounds[r.chosen].positions, false), bruteForce(truth, 12, 2, false),
              1e-9);
  EXPECT_NE(formatRefinement(r, false).find("(forward-balanced plan)"), std::string::npos);
}

TEST(RefinePartition, ASeedThatTheDPChoosesAgainIsMeasuredOnce) {
  std::vector<double> predicted{3, 1, 4, 1, 5, 9, 2, 6};
  auto g = chain(predicted);
  FakeStages truth{predicted, {}};
  RefineResult first = refinePartition(*g, options(2), {}, std::ref(truth));
  RefineOptions refine;
  refine.seeds.push_back(first.splits);
  truth.calls = 0;
  RefineResult r = refinePartition(*g, options(2), refine, std::ref(truth));
  EXPECT_EQ(truth.calls, 1);
  EXPECT_EQ(r.rounds.size(), 1u);
  EXPECT_EQ(r.splits.size(), first.splits.size());
}

TEST(RefinePartition, MeasuredActivationsReplaceTheCountOfCreatedTensors) {
  // Each op creates 16 bytes; what the backward keeps differs per op.
  std::vector<double> predicted{1, 1, 1, 1, 1, 1};
  auto g = chain(predicted);
  FakeStages truth{predicted, {}, {0, 40, 8, 100, 4, 12}};
  EXPECT_DOUBLE_EQ(partitionCosts(*g, {3}, options(2)).front().activationBytes, 48);
  RefineResult r = refinePartition(*g, options(2), {}, std::ref(truth));
  const RefineRound &chosen = r.rounds[r.chosen];
  std::vector<StageCost> now = partitionCosts(*g, chosen.positions, options(2));
  std::vector<StageMeasurement> measured = truth(chosen.positions);
  for (size_t k = 0; k < now.size(); ++k)
    EXPECT_NEAR(now[k].activationBytes, measured[k].activationBytes, 1e-9) << "stage " << k;
}

TEST(RefinePartition, SplitBackwardsGiveEachStageItsMeasuredInputAndWeightGradients) {
  // Zero-bubble's I is a different share of B per block (none on the first:
  // nothing to send back).
  std::vector<double> predicted(6, 1.0);
  auto g = chain(predicted);
  EXPECT_LT(partitionCosts(*g, {3}, options(2, true)).front().inputGradMs, 0);
  FakeStages truth{predicted, std::vector<double>(6, 2.0), {}, {0, 0.5, 1.5, 0.2, 1.0, 1.8}};
  RefineResult r = refinePartition(*g, options(2, true), {}, std::ref(truth));
  const RefineRound &chosen = r.rounds[r.chosen];
  std::vector<StageCost> now = partitionCosts(*g, chosen.positions, options(2, true));
  std::vector<StageMeasurement> measured = truth(chosen.positions);
  for (size_t k = 0; k < now.size(); ++k) {
    EXPECT_NEAR(now[k].inputGradMs, measured[k].inputGradMs, 1e-9) << "stage " << k;
    EXPECT_NEAR(now[k].backwardMs, measured[k].backwardMs, 1e-9) << "stage " << k;
  }
  PartitionOptions po = options(2, true);
  EXPECT_NE(formatPlan(*g, chosen.positions, po).find("(I ms   W ms)"), std::string::npos);
}

} // namespace
