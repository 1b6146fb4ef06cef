//===- tests/runtime/LrScheduleTest.cpp - pprun's --lr-schedule -----------===//
//
// The learning-rate formulas of runtime/LrSchedule.h, checked against values
// worked out by hand from the text: warmup, then constant, cosine or
// linear decay to min_lr over the run's remaining steps.
//
//===----------------------------------------------------------------------===//
#include "runtime/LrSchedule.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace ppc::rt;

namespace {

LrSchedule schedule(const std::string &kind, int64_t warmup, int64_t steps) {
  return {kind, /*maxLr=*/1e-3, warmup, /*minLr=*/1e-4, steps};
}

TEST(LrScheduleTest, WarmupRisesLinearlyToTheMaximum) {
  LrSchedule s = schedule("cosine", 4, 20);
  EXPECT_DOUBLE_EQ(learningRate(s, 0), 0.25e-3);
  EXPECT_DOUBLE_EQ(learningRate(s, 1), 0.5e-3);
  EXPECT_DOUBLE_EQ(learningRate(s, 3), 1e-3);
}

TEST(LrScheduleTest, CosineStartsAtMaximumAndHalvesMidway) {
  LrSchedule s = schedule("cosine", 4, 20);
  EXPECT_DOUBLE_EQ(learningRate(s, 4), 1e-3);                 // p = 0
  EXPECT_DOUBLE_EQ(learningRate(s, 12), 1e-4 + 0.5 * 0.9e-3); // p = 1/2
  double p = 15.0 / 16.0;                                     // the last step
  EXPECT_DOUBLE_EQ(learningRate(s, 19), 1e-4 + 0.5 * 0.9e-3 * (1 + std::cos(M_PI * p)));
}

TEST(LrScheduleTest, LinearFallsEvenlyTowardsMinimum) {
  LrSchedule s = schedule("linear", 2, 12);
  EXPECT_DOUBLE_EQ(learningRate(s, 2), 1e-3);
  EXPECT_DOUBLE_EQ(learningRate(s, 7), 1e-3 - 0.9e-3 * 0.5);
  EXPECT_DOUBLE_EQ(learningRate(s, 11), 1e-3 - 0.9e-3 * 0.9);
}

TEST(LrScheduleTest, ConstantKeepsMaximumAfterWarmup) {
  LrSchedule s = schedule("constant", 3, 10);
  EXPECT_DOUBLE_EQ(learningRate(s, 0), 1e-3 / 3);
  EXPECT_DOUBLE_EQ(learningRate(s, 3), 1e-3);
  EXPECT_DOUBLE_EQ(learningRate(s, 9), 1e-3);
}

TEST(LrScheduleTest, NoWarmupDecaysFromTheFirstStep) {
  LrSchedule s = schedule("linear", 0, 10);
  EXPECT_DOUBLE_EQ(learningRate(s, 0), 1e-3);
  EXPECT_DOUBLE_EQ(learningRate(s, 5), 1e-3 - 0.9e-3 * 0.5);
}

TEST(LrScheduleTest, WarmupAsLongAsTheRunDividesByOne) {
  // K - W = 0: p = (k - W) / max(1, 0) never divides by zero.
  LrSchedule s = schedule("cosine", 5, 5);
  EXPECT_DOUBLE_EQ(learningRate(s, 4), 1e-3);
  EXPECT_DOUBLE_EQ(learningRate(s, 5), 1e-3);
}

TEST(LrScheduleTest, UnknownKindIsRefused) {
  LrSchedule s = schedule("step", 0, 10);
  EXPECT_THROW(checkLrSchedule(s), std::runtime_error);
  EXPECT_NO_THROW(checkLrSchedule(schedule("cosine", 0, 10)));
}

} // namespace
