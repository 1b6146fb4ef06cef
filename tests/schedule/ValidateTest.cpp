//===- tests/schedule/ValidateTest.cpp - Catching bad action lists --------===//
//
// Each structural problem and each deadlock in a custom schedule is reported
// as one line naming the action and rank; valid mixes of B and I/W pass.
//
//===----------------------------------------------------------------------===//
#include "tests/schedule/ScheduleTesting.h"

#include <gtest/gtest.h>

using namespace ppc::sched;

TEST(Validate, BackwardBeforeItsForwardOnTheSameRankDeadlocks) {
  EXPECT_EQ(parseError("rank 0: 0F0,0B0\nrank 1: 1B0,1F0\n", 2, 2, 1),
            "schedule deadlocks: rank 0 is stuck at 0B0 (needs 1B0); rank 1 is stuck at 1B0 "
            "(needs 1F0)");
}

TEST(Validate, RanksMayOrderMicrobatchesDifferently) {
  EXPECT_EQ(parseError("rank 0: 0F1,0F0\nrank 1: 1F0,1F1\n", 2, 2, 2, false), "ok");
}

TEST(Validate, CrossedWaitsAcrossRanksDeadlock) {
  // 2F1 waits for 1F1, which rank 1 runs after 3F0, which waits for 2F0,
  // which rank 0 runs after 2F1.
  EXPECT_EQ(parseError("rank 0: 0F0,2F1,2F0,0F1\nrank 1: 1F0,3F0,1F1,3F1\n", 4, 2, 2, false),
            "schedule deadlocks: rank 0 is stuck at 2F1 (needs 1F1); rank 1 is stuck at 3F0 "
            "(needs 2F0)");
}

TEST(Validate, MissingBackwardIsReported) {
  EXPECT_EQ(parseError("rank 0: 0F0\nrank 1: 1F0,1B0\n", 2, 2, 1),
            "schedule lacks 0B0 (or 0I0 and 0W0)");
}

TEST(Validate, MissingForwardIsReported) {
  EXPECT_EQ(parseError("rank 0: 0F0\nrank 1: 1F0\n", 2, 2, 2, false), "schedule lacks 0F1");
}

TEST(Validate, DuplicateForwardIsReported) {
  EXPECT_EQ(parseError("rank 0: 0F0,0F0,0B0\nrank 1: 1F0,1B0\n", 2, 2, 1),
            "action 0F0 appears twice on rank 0");
}

TEST(Validate, ActionOnTheWrongRankIsReported) {
  EXPECT_EQ(parseError("rank 0: 0F0,1F0\nrank 1: \n", 2, 2, 1, false),
            "action 1F0 is on rank 0, but stage 1 lives on rank 1");
}

TEST(Validate, ActionOutOfRangeIsReported) {
  EXPECT_EQ(parseError("rank 0: 0F0,0F2\nrank 1: 1F0\n", 2, 2, 1, false),
            "action 0F2 on rank 0 is out of range (2 stages, 1 microbatches)");
}

TEST(Validate, BackwardInAnInferenceScheduleIsReported) {
  EXPECT_EQ(parseError("0F0,0B0\n", 1, 1, 1, false),
            "action 0B0 on rank 0 in an inference schedule (forwards only)");
}

TEST(Validate, WeightGradBeforeItsInputGradDeadlocks) {
  EXPECT_EQ(parseError("0F0,0W0,0I0\n", 1, 1, 1),
            "schedule deadlocks: rank 0 is stuck at 0W0 (needs 0I0)");
}

TEST(Validate, InputGradWithoutWeightGradIsReported) {
  EXPECT_EQ(parseError("0F0,0I0\n", 1, 1, 1), "schedule lacks 0W0, the weight-grad after 0I0");
}

TEST(Validate, FullAndSplitBackwardOfOneMicrobatchIsReported) {
  EXPECT_EQ(parseError("0F0,0B0,0I0,0W0\n", 1, 1, 1),
            "schedule has both 0B0 and 0I0: a backward is either B or split into I and W");
}

TEST(Validate, StagesMayMixFullAndSplitBackward) {
  EXPECT_EQ(parseError("rank 0: 0F0,0I0,0W0\nrank 1: 1F0,1B0\n", 2, 2, 1), "ok");
  EXPECT_EQ(parseError("rank 0: 0F0,0B0\nrank 1: 1F0,1I0,1W0\n", 2, 2, 1), "ok");
}

TEST(Validate, WrongNumberOfRankListsIsReported) {
  Schedule s{"custom", 2, 2, 1, false, {{{0, ActionKind::Forward, 0}}}};
  try {
    validateSchedule(s);
    FAIL();
  } catch (const ScheduleError &e) {
    EXPECT_STREQ(e.what(), "schedule has 1 rank lists for 2 ranks");
  }
}

TEST(Validate, EmptyShapeIsReportedNotCrashed) {
  EXPECT_EQ(parseError("", 1, 0, 1),
            "a schedule needs at least one stage, rank and microbatch; got 1 stages, 0 ranks, 1 "
            "microbatches");
}
