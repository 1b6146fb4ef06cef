//===- tests/schedule/GeneratorsTest.cpp - The built-in schedules ---------===//
//
// Golden action lists and grids of every generator on small cases, checked by
// hand against torch.distributed.pipelining, Megatron and the ZB-H1 paper;
// a sweep showing every generated schedule validates; and the shape errors.
//
//===----------------------------------------------------------------------===//
#include "tests/schedule/ScheduleTesting.h"

#include <gtest/gtest.h>

using namespace ppc::sched;

TEST(GPipe, RunsAllForwardsThenAllBackwards) {
  // The last stage starts its backwards as soon as its forwards are done;
  // stage 0 waits one step for the gradient of 0B0.
  EXPECT_EQ(printGrid(generateSchedule("gpipe", 2, 2, 3, true)),
            "t   0   1   2   3   4   5   6   7\n"
            "r0  0F0 0F1 0F2 .   .   0B0 0B1 0B2\n"
            "r1  .   1F0 1F1 1F2 1B0 1B1 1B2 .\n");
}

TEST(OneFOneB, WarmsUpWithStagesMinusRankMinusOneForwards) {
  EXPECT_EQ(lists(generateSchedule("1f1b", 4, 4, 8, true)),
            "0F0,0F1,0F2,0F3,0B0,0F4,0B1,0F5,0B2,0F6,0B3,0F7,0B4,0B5,0B6,0B7\n"
            "1F0,1F1,1F2,1B0,1F3,1B1,1F4,1B2,1F5,1B3,1F6,1B4,1F7,1B5,1B6,1B7\n"
            "2F0,2F1,2B0,2F2,2B1,2F3,2B2,2F4,2B3,2F5,2B4,2F6,2B5,2F7,2B6,2B7\n"
            "3F0,3B0,3F1,3B1,3F2,3B2,3F3,3B3,3F4,3B4,3F5,3B5,3F6,3B6,3F7,3B7\n");
}

TEST(OneFOneB, FewerMicrobatchesThanStagesWarmUpWithAll) {
  EXPECT_EQ(lists(generateSchedule("1f1b", 3, 3, 1, true)), "0F0,0B0\n1F0,1B0\n2F0,2B0\n");
}

TEST(Interleaved, FollowsMegatronRoundsOfRanks) {
  // Rank 0 holds stages 0 and 2; M/N = 2 rounds of 2 microbatches; warm-up
  // (v-1)*2 + 2(N-r-1) is 4 forwards on rank 0 and 2 on rank 1.
  Schedule s = generateSchedule("interleaved-1f1b", 4, 2, 4, true);
  EXPECT_EQ(lists(s), "0F0,0F1,2F0,2F1,0F2,2B0,0F3,2B1,2F2,0B0,2F3,0B1,2B2,2B3,0B2,0B3\n"
                      "1F0,1F1,3F0,3B0,3F1,3B1,1F2,1B0,1F3,1B1,3F2,3B2,3F3,3B3,1B2,1B3\n");
  EXPECT_EQ(printGrid(s),
            "t   0   1   2   3   4   5   6   7   8   9   10  11  12  13  14  15  16  17\n"
            "r0  0F0 0F1 2F0 2F1 0F2 2B0 0F3 2B1 2F2 0B0 2F3 0B1 .   2B2 .   2B3 0B2 0B3\n"
            "r1  .   1F0 1F1 3F0 3B0 3F1 3B1 1F2 1B0 1F3 1B1 3F2 3B2 3F3 3B3 1B2 1B3 .\n");
}

TEST(Interleaved, MicrobatchesNotAMultipleOfRanksFormOneRoundLikeTorch) {
  // M=3, N=2: max(1, 3/2) = 1 round of 3; warm-up 1*3 + 2(N-r-1).
  EXPECT_EQ(lists(generateSchedule("interleaved-1f1b", 4, 2, 3, true)),
            "0F0,0F1,0F2,2F0,2F1,2F2,2B0,2B1,2B2,0B0,0B1,0B2\n"
            "1F0,1F1,1F2,3F0,3B0,3F1,3B1,3F2,3B2,1B0,1B1,1B2\n");
}

TEST(Interleaved, UnevenRoundsPutTheLargerFirst) {
  // M=5, N=2: 2 rounds of 3 and 2 (torch rejects this M); inference order.
  EXPECT_EQ(lists(generateSchedule("interleaved-1f1b", 4, 2, 5, false)),
            "0F0,0F1,0F2,2F0,2F1,2F2,0F3,0F4,2F3,2F4\n"
            "1F0,1F1,1F2,3F0,3F1,3F2,1F3,1F4,3F3,3F4\n");
}

TEST(LoopedBfs, RunsEveryMicrobatchStageByStage) {
  // Backwards go last stage first and, as in torch, last microbatch first.
  Schedule s = generateSchedule("looped-bfs", 4, 2, 2, true);
  EXPECT_EQ(lists(s), "0F0,0F1,2F0,2F1,2B1,2B0,0B1,0B0\n"
                      "1F0,1F1,3F0,3F1,3B1,3B0,1B1,1B0\n");
  EXPECT_EQ(printGrid(s), "t   0   1   2   3   4   5   6   7   8   9\n"
                          "r0  0F0 0F1 2F0 2F1 .   .   2B1 2B0 0B1 0B0\n"
                          "r1  .   1F0 1F1 3F0 3F1 3B1 3B0 1B1 1B0 .\n");
}

TEST(ZeroBubble, SplitsBackwardAndDefersWeightGradsOnLaterRanks) {
  // Rank r keeps up to r W's pending; the last rank's deferred W's fill the
  // cool-down, and every rank ends at the same step.
  Schedule s = generateSchedule("zero-bubble", 3, 3, 6, true);
  EXPECT_EQ(lists(s), "0F0,0F1,0F2,0I0,0W0,0F3,0I1,0W1,0F4,0I2,0W2,0F5,0I3,0W3,0I4,0W4,0I5,0W5\n"
                      "1F0,1F1,1I0,1F2,1I1,1W0,1F3,1I2,1W1,1F4,1I3,1W2,1F5,1I4,1W3,1I5,1W4,1W5\n"
                      "2F0,2I0,2F1,2I1,2F2,2I2,2W0,2F3,2I3,2W1,2F4,2I4,2W2,2F5,2I5,2W3,2W4,2W5\n");
  EXPECT_EQ(
      printGrid(s),
      "t   0   1   2   3   4   5   6   7   8   9   10  11  12  13  14  15  16  17  18  19\n"
      "r0  0F0 0F1 0F2 .   .   0I0 0W0 0F3 0I1 0W1 0F4 0I2 0W2 0F5 0I3 0W3 0I4 0W4 0I5 0W5\n"
      "r1  .   1F0 1F1 .   1I0 1F2 1I1 1W0 1F3 1I2 1W1 1F4 1I3 1W2 1F5 1I4 1W3 1I5 1W4 1W5\n"
      "r2  .   .   2F0 2I0 2F1 2I1 2F2 2I2 2W0 2F3 2I3 2W1 2F4 2I4 2W2 2F5 2I5 2W3 2W4 2W5\n");
}

TEST(Inference, EveryScheduleIsItsForwardOrder) {
  EXPECT_EQ(lists(generateSchedule("gpipe", 2, 2, 3, false)), "0F0,0F1,0F2\n1F0,1F1,1F2\n");
  EXPECT_EQ(lists(generateSchedule("1f1b", 2, 2, 3, false)), "0F0,0F1,0F2\n1F0,1F1,1F2\n");
  EXPECT_EQ(lists(generateSchedule("zero-bubble", 2, 2, 3, false)), "0F0,0F1,0F2\n1F0,1F1,1F2\n");
  EXPECT_EQ(lists(generateSchedule("looped-bfs", 4, 2, 2, false)),
            "0F0,0F1,2F0,2F1\n1F0,1F1,3F0,3F1\n");
  EXPECT_EQ(lists(generateSchedule("interleaved-1f1b", 4, 2, 4, false)),
            "0F0,0F1,2F0,2F1,0F2,0F3,2F2,2F3\n1F0,1F1,3F0,3F1,1F2,1F3,3F2,3F3\n");
}

static bool fits(const std::string &name, int v) {
  if (name == "interleaved-1f1b" || name == "looped-bfs")
    return v >= 2;
  if (name == "1f1b" || name == "zero-bubble")
    return v == 1;
  return true;
}

TEST(Sweep, EveryGeneratedScheduleValidates) {
  for (const std::string &name : scheduleNames())
    for (int n = 1; n <= 4; ++n)
      for (int v = 1; v <= 3; ++v)
        for (int m = 1; m <= 9; ++m)
          for (bool training : {false, true}) {
            if (!fits(name, v))
              continue;
            Schedule s = generateSchedule(name, n * v, n, m, training);
            EXPECT_NO_THROW(validateSchedule(s))
                << name << " S=" << n * v << " N=" << n << " M=" << m << " training=" << training;
            EXPECT_EQ(s.name, name);
          }
}

TEST(Sweep, InterleavedValidatesForAnyMicrobatchCount) {
  // Rounds of unequal size are this library's extension of torch's layout.
  for (int n = 2; n <= 6; ++n)
    for (int v = 2; v <= 4; ++v)
      for (int m = 1; m <= 4 * n + 3; ++m)
        EXPECT_NO_THROW(generateSchedule("interleaved-1f1b", n * v, n, m, true))
            << "S=" << n * v << " N=" << n << " M=" << m;
}

TEST(ShapeErrors, UnknownNameListsTheBuiltIns) {
  EXPECT_EQ(generateError("pipedream", 2, 2, 2),
            "unknown schedule 'pipedream'; built in: gpipe, 1f1b, interleaved-1f1b, looped-bfs, "
            "zero-bubble");
}

TEST(ShapeErrors, StagesMustBeAMultipleOfRanks) {
  EXPECT_EQ(generateError("gpipe", 3, 2, 4),
            "3 stages cannot be spread over 2 ranks: the stage count must be a multiple of the "
            "rank count");
}

TEST(ShapeErrors, OneStagePerRankSchedulesPointToInterleaved) {
  EXPECT_EQ(generateError("1f1b", 4, 2, 4),
            "1f1b runs one stage per rank; for 2 stages per rank use interleaved-1f1b or "
            "looped-bfs");
  EXPECT_EQ(generateError("zero-bubble", 6, 3, 4),
            "zero-bubble runs one stage per rank; for 2 stages per rank use interleaved-1f1b or "
            "looped-bfs");
}

TEST(ShapeErrors, InterleavedNeedsTwoStagesPerRank) {
  EXPECT_EQ(generateError("interleaved-1f1b", 2, 2, 4),
            "interleaved-1f1b needs at least two stages per rank (S = v*N, v >= 2), got 2 stages "
            "on 2 ranks; use 1f1b or gpipe");
}

TEST(ShapeErrors, AtLeastOneMicrobatch) {
  EXPECT_EQ(generateError("gpipe", 2, 2, 0), "the microbatch count must be at least 1, got 0");
  EXPECT_EQ(generateError("gpipe", 0, 0, 1),
            "a pipeline needs at least one stage and one rank, got 0 stages on 0 ranks");
}
