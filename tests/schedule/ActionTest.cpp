//===- tests/schedule/ActionTest.cpp - The action and schedule grammar ----===//
//
// Actions print and parse in torch.distributed.pipelining's grammar; custom
// schedules read by rank or as bare lists, and bad text names its line.
//
//===----------------------------------------------------------------------===//
#include "tests/schedule/ScheduleTesting.h"

#include <gtest/gtest.h>

using namespace ppc::sched;

TEST(Action, PrintsStageKindMicrobatch) {
  EXPECT_EQ((Action{0, ActionKind::Forward, 1}).str(), "0F1");
  EXPECT_EQ((Action{12, ActionKind::Backward, 30}).str(), "12B30");
  EXPECT_EQ((Action{1, ActionKind::InputGrad, 3}).str(), "1I3");
  EXPECT_EQ((Action{3, ActionKind::WeightGrad, 0}).str(), "3W0");
}

TEST(Action, ParsesWhatItPrints) {
  for (const char *text : {"0F1", "2B5", "1I3", "3W0", "10F11"})
    EXPECT_EQ(parseAction(text).str(), text);
  EXPECT_EQ(parseAction(" 2B5 "), (Action{2, ActionKind::Backward, 5}));
}

TEST(Action, RejectsMalformedText) {
  for (const char *text : {"F1", "1F", "1X2", "-1F0", "1F+2", "", "1FB2"})
    EXPECT_THROW(parseAction(text), ScheduleError) << text;
  try {
    parseAction("0X1");
    FAIL();
  } catch (const ScheduleError &e) {
    EXPECT_STREQ(e.what(), "bad action '0X1': expected e.g. 0F1, 2B0, 1I3 or 1W3");
  }
}

TEST(ParseSchedule, ReadsRankLinesWithComments) {
  Schedule s = parseSchedule("# two stages\n"
                             "rank 1: 1F0,1B0,1F1,1B1   # last stage\n"
                             "rank 0: 0F0, 0F1, 0B0, 0B1\n",
                             2, 2, 2, true);
  EXPECT_EQ(s.name, "custom");
  EXPECT_EQ(lists(s), "0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1\n");
}

TEST(ParseSchedule, ReadsBareListsRankByRank) {
  Schedule s = parseSchedule("0F0,0F1\n\n1F0,1F1,\n", 2, 2, 2, false);
  EXPECT_EQ(lists(s), "0F0,0F1\n1F0,1F1\n");
}

TEST(ParseSchedule, BadActionNamesItsLine) {
  EXPECT_EQ(parseError("0F0\n1F0,1X0\n", 2, 2, 1, false),
            "line 2: bad action '1X0': expected e.g. 0F1, 2B0, 1I3 or 1W3");
}

TEST(ParseSchedule, RankOutOfRangeNamesItsLine) {
  EXPECT_EQ(parseError("# header\nrank 2: 0F0\n", 2, 2, 1, false),
            "line 2: a list for rank 2, but there are 2 ranks");
}

TEST(ParseSchedule, RankListedTwiceIsAnError) {
  EXPECT_EQ(parseError("rank 0: 0F0\nrank 0: 0F1\n", 1, 1, 2, false),
            "line 2: rank 0 is listed twice");
}

TEST(ParseSchedule, MalformedRankPrefixIsAnError) {
  EXPECT_EQ(parseError("rank x: 0F0\n", 1, 1, 1, false), "line 1: expected 'rank N: actions'");
}

TEST(ParseSchedule, ValidatesWhatItReads) {
  EXPECT_EQ(parseError("rank 0: 0F0\n", 1, 1, 2, false), "schedule lacks 0F1");
}
