//===- runtime/LrSchedule.cpp - The learning rate of each step ------------===//
//
// The formulas of LrSchedule.h, as the issue states them: no clamping, so a
// step past K would go on along the formula (pprun never runs one).
//
//===----------------------------------------------------------------------===//
#include "runtime/LrSchedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

using namespace ppc::rt;

double ppc::rt::learningRate(const LrSchedule &s, int64_t step) {
  if (step < s.warmup)
    return s.maxLr * double(step + 1) / double(s.warmup);
  if (s.kind == "constant")
    return s.maxLr;
  double p = double(step - s.warmup) / double(std::max<int64_t>(1, s.totalSteps - s.warmup));
  if (s.kind == "cosine")
    return s.minLr + 0.5 * (s.maxLr - s.minLr) * (1 + std::cos(M_PI * p));
  return s.maxLr - (s.maxLr - s.minLr) * p;
}

void ppc::rt::checkLrSchedule(const LrSchedule &s) {
  if (s.kind != "constant" && s.kind != "cosine" && s.kind != "linear")
    throw std::runtime_error("--lr-schedule must be constant, cosine or linear, not '" + s.kind +
                             "'");
  if (s.warmup < 0)
    throw std::runtime_error("--warmup must be at least 0");
  if (s.minLr < 0 || s.maxLr < 0)
    throw std::runtime_error("--lr and --min-lr must not be negative");
}
