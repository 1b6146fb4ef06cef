//===- tests/schedule/SimulatorTest.cpp - Predicted time and memory -------===//
//
// With equal stage costs the simulated bubble matches the closed forms of
// GPipe, 1F1B and interleaved 1F1B; ZB-H1 beats 1F1B; peak activations count
// microbatches in flight (after a zero-bubble I, only what W needs); transfers cost only between
// ranks.
//
//===----------------------------------------------------------------------===//
#include "tests/schedule/ScheduleTesting.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace ppc::sched;

/// F = 1, B = 2 (so I = W = 1), one byte of activations per microbatch.
static StageCosts equalCosts(int stages) {
  StageCosts c;
  c.forwardMs.assign(stages, 1.0);
  c.backwardMs.assign(stages, 2.0);
  c.activationBytes.assign(stages, 1.0);
  return c;
}

static double theoryBubble(int p, int m, int v = 1) { return double(p - 1) / (v * m + p - 1); }

static Simulation run(const char *name, int stages, int ranks, int mbs, bool training = true) {
  return simulate(generateSchedule(name, stages, ranks, mbs, training), equalCosts(stages));
}

TEST(Simulate, GPipeAndOneFOneBBubbleMatchesTheory) {
  for (const char *name : {"gpipe", "1f1b"})
    for (auto [p, m] : {std::pair{2, 4}, {4, 8}, {4, 16}, {8, 8}}) {
      double bubble = run(name, p, p, m).bubbleFraction;
      EXPECT_NEAR(bubble, theoryBubble(p, m), 0.01 * theoryBubble(p, m))
          << name << " p=" << p << " m=" << m;
    }
}

TEST(Simulate, InterleavedBubbleShrinksByTheStagesPerRank) {
  for (auto [p, v, m] : {std::tuple{2, 2, 4}, {4, 2, 8}, {2, 3, 6}, {4, 2, 16}}) {
    double bubble = run("interleaved-1f1b", p * v, p, m).bubbleFraction;
    EXPECT_NEAR(bubble, theoryBubble(p, m, v), 0.01 * theoryBubble(p, m, v))
        << "p=" << p << " v=" << v << " m=" << m;
  }
}

TEST(Simulate, ZeroBubbleBeatsOneFOneB) {
  for (auto [p, m] : {std::pair{3, 6}, {4, 8}, {4, 16}}) {
    Simulation zb = run("zero-bubble", p, p, m), ofob = run("1f1b", p, p, m);
    // ZB-H1 with F = I = W: the bubble is (p-1)(F+I-W) instead of (p-1)(F+B).
    EXPECT_DOUBLE_EQ(zb.stepMs, m * 3.0 + (p - 1) * 1.0) << "p=" << p << " m=" << m;
    EXPECT_LT(zb.bubbleFraction, ofob.bubbleFraction);
  }
}

TEST(Simulate, OneFOneBPeakOnFirstStageIsMinOfStagesAndMicrobatches) {
  EXPECT_EQ(run("1f1b", 4, 4, 8).peakActivationBytes[0], 4.0);
  EXPECT_EQ(run("1f1b", 4, 4, 2).peakActivationBytes[0], 2.0);
  EXPECT_EQ(run("1f1b", 4, 4, 8).peakActivationBytes[3], 1.0);
}

TEST(Simulate, GPipePeakIsEveryMicrobatch) {
  EXPECT_EQ(run("gpipe", 4, 4, 8).peakActivationBytes[0], 8.0);
  EXPECT_EQ(run("gpipe", 4, 4, 8).peakActivationBytes[3], 8.0);
}

TEST(Simulate, ZeroBubbleHoldsActivationsUntilWeightGrad) {
  // Deferred W's keep later stages at 1F1B's first-stage peak of p.
  std::vector<double> peaks = run("zero-bubble", 4, 4, 8).peakActivationBytes;
  EXPECT_EQ(peaks, (std::vector<double>{4, 4, 4, 4}));
}

TEST(Simulate, ZeroBubbleHoldsOnlyWhatWNeedsBetweenIAndW) {
  Schedule s = generateSchedule("zero-bubble", 4, 4, 8, true);
  StageCosts costs = equalCosts(4);
  costs.weightKeptBytes.assign(4, 0.25);
  Simulation sim = simulate(s, costs);
  for (int k = 0; k < 4; ++k) {
    double most = 0; // the largest of the moments the simulation lists
    for (const LiveMicrobatches &live : sim.liveStates[k])
      most = std::max(most, live.full + 0.25 * live.weightOnly);
    EXPECT_DOUBLE_EQ(sim.peakActivationBytes[k], most) << "stage " << k;
    EXPECT_GE(sim.peakActivationBytes[k], 1.0) << "stage " << k;
  }
  // The first stage still takes four F's before its first I; later ones hold less in full.
  EXPECT_DOUBLE_EQ(sim.peakActivationBytes[0], 4.0);
  EXPECT_LT(sim.peakActivationBytes[3], 4.0);
  // The last stage runs each I right after its F: one in full, the rest waiting for W.
  bool waitsForW = false;
  for (const LiveMicrobatches &live : sim.liveStates[3])
    waitsForW |= live.weightOnly > 0;
  EXPECT_TRUE(waitsForW);
}

TEST(Simulate, InferenceHoldsOneMicrobatchAtATime) {
  EXPECT_EQ(run("gpipe", 2, 2, 4, false).peakActivationBytes, (std::vector<double>{1, 1}));
}

TEST(Simulate, BusyTimeAndTimelineFollowTheCosts) {
  Simulation sim = run("1f1b", 2, 2, 2);
  EXPECT_EQ(sim.busyMs, (std::vector<double>{6, 6}));
  ASSERT_EQ(sim.timeline.size(), 2u);
  ASSERT_EQ(sim.timeline[1].size(), 4u);
  // Rank 1: 1F0 after 0F0, then 1B0 (2 ms), 1F1, 1B1.
  EXPECT_EQ(sim.timeline[1][0].action.str(), "1F0");
  EXPECT_DOUBLE_EQ(sim.timeline[1][0].startMs, 1);
  EXPECT_DOUBLE_EQ(sim.timeline[1][1].endMs, 4);
  EXPECT_DOUBLE_EQ(sim.stepMs, 9);
}

TEST(Simulate, SplitBackwardDefaultsToHalvesOfB) {
  StageCosts c = equalCosts(1);
  Schedule s = generateSchedule("zero-bubble", 1, 1, 1, true);
  EXPECT_DOUBLE_EQ(simulate(s, c).stepMs, 3);
  c.inputGradMs = {0.5};
  c.weightGradMs = {3};
  EXPECT_DOUBLE_EQ(simulate(s, c).stepMs, 4.5);
}

TEST(Simulate, TransfersBetweenRanksAddToTheStep) {
  StageCosts c = equalCosts(2);
  Schedule s = generateSchedule("gpipe", 2, 2, 1, false);
  EXPECT_DOUBLE_EQ(simulate(s, c).stepMs, 2.0);
  c.sendMs = {0.5, 0.5};
  EXPECT_DOUBLE_EQ(simulate(s, c).stepMs, 2.5);
}

TEST(Simulate, GradientsPayForTheBoundaryTheyCross) {
  // 0F0 [0,1], send 0.5, 1F0 [1.5,2.5], 1B0 [2.5,4.5], gradient back over
  // stage 0's boundary 0.5, 0B0 [5,7]; stage 1's outputs cross no rank.
  StageCosts c = equalCosts(2);
  c.sendMs = {0.5, 7};
  EXPECT_DOUBLE_EQ(simulate(generateSchedule("gpipe", 2, 2, 1, true), c).stepMs, 7);
}

TEST(Simulate, EdgesWithinARankAreFree) {
  StageCosts c = equalCosts(2);
  c.sendMs = {0.5, 0.5};
  EXPECT_DOUBLE_EQ(simulate(generateSchedule("gpipe", 2, 1, 1, true), c).stepMs, 6);
}

TEST(Simulate, InvalidScheduleThrows) {
  Schedule s{"custom", 1, 1, 1, true, {{{0, ActionKind::Forward, 0}}}};
  EXPECT_THROW(simulate(s, equalCosts(1)), ScheduleError);
}
