//===- tests/schedule/ScheduleTest.cpp - Generators, validation, simulation ===//
//
// Golden action lists of every generator (checked by hand against the
// definitions in torch.distributed.pipelining and Megatron), validation of
// custom lists, and the simulator against the closed-form bubble fractions.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Schedule.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace ppc::sched;

static std::string lists(const Schedule &s) {
  std::string out;
  for (const auto &rank : s.ranks) {
    for (size_t i = 0; i < rank.size(); ++i)
      out += (i ? "," : "") + rank[i].str();
    out += "\n";
  }
  return out;
}

static std::string validationError(const std::string &text, int stages, int ranks, int mbs,
                                   bool training = true) {
  try {
    parseSchedule(text, stages, ranks, mbs, training);
  } catch (const ScheduleError &e) {
    return e.what();
  }
  return "valid";
}

TEST(Generators, GPipeGridTwoStagesThreeMicrobatches) {
  EXPECT_EQ(printGrid(generateSchedule("gpipe", 2, 2, 3, true)),
            "t   0   1   2   3   4   5   6   7\n"
            "r0  0F0 0F1 0F2 .   .   0B0 0B1 0B2\n"
            "r1  .   1F0 1F1 1F2 1B0 1B1 1B2 .\n");
}

TEST(Generators, OneFOneBWarmsUpWithStagesMinusRankMinusOneForwards) {
  EXPECT_EQ(lists(generateSchedule("1f1b", 4, 4, 8, true)),
            "0F0,0F1,0F2,0F3,0B0,0F4,0B1,0F5,0B2,0F6,0B3,0F7,0B4,0B5,0B6,0B7\n"
            "1F0,1F1,1F2,1B0,1F3,1B1,1F4,1B2,1F5,1B3,1F6,1B4,1F7,1B5,1B6,1B7\n"
            "2F0,2F1,2B0,2F2,2B1,2F3,2B2,2F4,2B3,2F5,2B4,2F6,2B5,2F7,2B6,2B7\n"
            "3F0,3B0,3F1,3B1,3F2,3B2,3F3,3B3,3F4,3B4,3F5,3B5,3F6,3B6,3F7,3B7\n");
}

TEST(Generators, InterleavedFollowsMegatronGroupsOfRanks) {
  // Rank 0 holds stages 0 and 2; warm-up (v-1)N + 2(N-r-1) = 4 forwards.
  EXPECT_EQ(lists(generateSchedule("interleaved-1f1b", 4, 2, 4, true)),
            "0F0,0F1,2F0,2F1,0F2,2B0,0F3,2B1,2F2,0B0,2F3,0B1,2B2,2B3,0B2,0B3\n"
            "1F0,1F1,3F0,3B0,3F1,3B1,1F2,1B0,1F3,1B1,3F2,3B2,3F3,3B3,1B2,1B3\n");
}

TEST(Generators, LoopedBfsRunsEveryMicrobatchStageByStage) {
  EXPECT_EQ(lists(generateSchedule("looped-bfs", 4, 2, 2, true)),
            "0F0,0F1,2F0,2F1,2B0,2B1,0B0,0B1\n"
            "1F0,1F1,3F0,3F1,3B0,3B1,1B0,1B1\n");
}

TEST(Generators, ZeroBubbleSplitsBackwardAndDefersWeightGradOnLaterRanks) {
  EXPECT_EQ(lists(generateSchedule("zero-bubble", 3, 3, 6, true)),
            "0F0,0F1,0F2,0I0,0W0,0F3,0I1,0W1,0F4,0I2,0W2,0F5,0I3,0W3,0I4,0W4,0I5,0W5\n"
            "1F0,1F1,1I0,1F2,1I1,1W0,1F3,1I2,1W1,1F4,1I3,1W2,1F5,1I4,1W3,1I5,1W4,1W5\n"
            "2F0,2I0,2F1,2I1,2F2,2I2,2W0,2F3,2I3,2W1,2F4,2I4,2W2,2F5,2I5,2W3,2W4,2W5\n");
}

TEST(Generators, InferenceSchedulesAreForwardOnly) {
  EXPECT_EQ(lists(generateSchedule("1f1b", 2, 2, 3, false)), "0F0,0F1,0F2\n1F0,1F1,1F2\n");
  EXPECT_EQ(lists(generateSchedule("interleaved-1f1b", 4, 2, 3, false)),
            "0F0,0F1,2F0,2F1,0F2,2F2\n1F0,1F1,3F0,3F1,1F2,3F2\n");
}

TEST(Generators, EveryScheduleValidatesAcrossShapes) {
  for (const std::string &name : scheduleNames())
    for (int n = 1; n <= 4; ++n)
      for (int v = 1; v <= 3; ++v)
        for (int m = 1; m <= 9; ++m)
          for (bool training : {false, true}) {
            bool multi = name == "interleaved-1f1b" || name == "looped-bfs";
            bool single = name == "1f1b" || name == "zero-bubble";
            if ((multi && v < 2) || (single && v != 1))
              continue;
            Schedule s = generateSchedule(name, n * v, n, m, training);
            EXPECT_NO_THROW(validateSchedule(s)) << name << " S=" << n * v << " N=" << n;
          }
}

TEST(Generators, ShapeErrorsSayWhatToDo) {
  EXPECT_THROW(generateSchedule("pipedream", 2, 2, 2, true), ScheduleError);
  try {
    generateSchedule("1f1b", 4, 2, 4, true);
    FAIL();
  } catch (const ScheduleError &e) {
    EXPECT_STREQ(e.what(), "1f1b runs one stage per rank; for 2 stages per rank use "
                           "interleaved-1f1b or looped-bfs");
  }
  EXPECT_THROW(generateSchedule("gpipe", 3, 2, 4, true), ScheduleError);
  EXPECT_THROW(generateSchedule("interleaved-1f1b", 2, 2, 4, true), ScheduleError);
}

TEST(Validation, CustomListParsesByRank) {
  Schedule s = parseSchedule("# two stages\nrank 0: 0F0, 0F1, 0B0, 0B1\nrank 1: 1F0,1B0,1F1,1B1\n",
                             2, 2, 2, true);
  EXPECT_EQ(lists(s), "0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1\n");
}

TEST(Validation, BackwardBeforeItsForwardDeadlocks) {
  EXPECT_EQ(validationError("rank 0: 0F0,0B0\nrank 1: 1B0,1F0\n", 2, 2, 1),
            "schedule deadlocks: rank 0 waits at 0B0; rank 1 waits at 1B0;");
}

TEST(Validation, MissingBackwardIsReported) {
  EXPECT_EQ(validationError("rank 0: 0F0\nrank 1: 1F0,1B0\n", 2, 2, 1),
            "schedule lacks action 0B0");
}

TEST(Validation, DuplicateForwardIsReported) {
  EXPECT_EQ(validationError("rank 0: 0F0,0F0,0B0\nrank 1: 1F0,1B0\n", 2, 2, 1),
            "action 0F0 appears twice");
}

TEST(Validation, ActionOnTheWrongRankIsReported) {
  EXPECT_EQ(validationError("rank 0: 0F0,1F0\nrank 1: \n", 2, 2, 1, false),
            "action 1F0 is on rank 0, but stage 1 lives on rank 1");
}

TEST(Validation, WeightGradBeforeInputGradDeadlocks) {
  EXPECT_EQ(validationError("0F0,0W0,0I0\n", 1, 1, 1), "schedule deadlocks: rank 0 waits at 0W0;");
}

static StageCosts equalCosts(int stages) {
  StageCosts c;
  c.forwardMs.assign(stages, 1.0);
  c.backwardMs.assign(stages, 2.0);
  c.activationBytes.assign(stages, 1.0);
  return c;
}

static double theoryBubble(int p, int m, int v = 1) { return double(p - 1) / (v * m + p - 1); }

TEST(Simulation, GPipeAndOneFOneBBubbleMatchesTheory) {
  for (const char *name : {"gpipe", "1f1b"})
    for (auto [p, m] : {std::pair{2, 4}, {4, 8}, {4, 16}, {8, 8}}) {
      Simulation sim = simulate(generateSchedule(name, p, p, m, true), equalCosts(p));
      EXPECT_NEAR(sim.bubbleFraction, theoryBubble(p, m), 0.01 * theoryBubble(p, m))
          << name << " p=" << p << " m=" << m;
    }
}

TEST(Simulation, InterleavedBubbleShrinksByTheChunkCount) {
  for (auto [p, v, m] : {std::tuple{2, 2, 4}, {4, 2, 8}, {2, 3, 6}}) {
    Simulation sim =
        simulate(generateSchedule("interleaved-1f1b", p * v, p, m, true), equalCosts(p * v));
    EXPECT_NEAR(sim.bubbleFraction, theoryBubble(p, m, v), 0.01 * theoryBubble(p, m, v))
        << "p=" << p << " v=" << v << " m=" << m;
  }
}

TEST(Simulation, ZeroBubbleBeatsOneFOneB) {
  for (auto [p, m] : {std::pair{3, 6}, {4, 8}, {4, 16}}) {
    double zb = simulate(generateSchedule("zero-bubble", p, p, m, true), equalCosts(p)).stepMs;
    double ofob = simulate(generateSchedule("1f1b", p, p, m, true), equalCosts(p)).stepMs;
    // ZB-H1 with F = I = W: the bubble is (p-1)(F+I-W) instead of (p-1)(F+B).
    EXPECT_DOUBLE_EQ(zb, m * 3.0 + (p - 1) * 1.0) << "p=" << p << " m=" << m;
    EXPECT_LT(zb, ofob);
  }
}

TEST(Simulation, PeakActivationsOfFirstStage) {
  StageCosts c = equalCosts(4);
  EXPECT_EQ(simulate(generateSchedule("1f1b", 4, 4, 8, true), c).peakActivationBytes[0], 4.0);
  EXPECT_EQ(simulate(generateSchedule("1f1b", 4, 4, 2, true), c).peakActivationBytes[0], 2.0);
  EXPECT_EQ(simulate(generateSchedule("gpipe", 4, 4, 8, true), c).peakActivationBytes[0], 8.0);
}

TEST(Simulation, TransfersBetweenRanksAddToTheStep) {
  StageCosts c = equalCosts(2);
  double free = simulate(generateSchedule("gpipe", 2, 2, 1, false), c).stepMs;
  c.sendMs = {0.5, 0.5};
  double paid = simulate(generateSchedule("gpipe", 2, 2, 1, false), c).stepMs;
  EXPECT_DOUBLE_EQ(free, 2.0);
  EXPECT_DOUBLE_EQ(paid, 2.5);
}
