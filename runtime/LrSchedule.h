//===- runtime/LrSchedule.h - The learning rate of each step ----*- C++ -*-===//
//
// pprun's --lr-schedule as a pure function of the step: a linear warmup over
// the first W steps from lr_max/W up to lr_max, then constant, or cosine or
// linear decay to min_lr over the remaining K - W steps of the run's whole
// length K (--steps, counting steps done before a resume), so a resumed run
// takes the same rates as one that never stopped.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_LRSCHEDULE_H
#define PPC_RUNTIME_LRSCHEDULE_H

#include <cstdint>
#include <string>

namespace ppc::rt {

struct LrSchedule {
  std::string kind = "constant"; // constant | cosine | linear
  double maxLr = 0.01;
  int64_t warmup = 0;
  double minLr = 0;
  int64_t totalSteps = 1;
};

/// The learning rate of step `step` (from 0) of `s.totalSteps`:
/// lr_max (k+1)/W while k < W, then with p = (k-W)/max(1, K-W)
/// cosine: min + (max-min)(1 + cos(pi p))/2, linear: max - (max-min) p,
/// constant: max.
double learningRate(const LrSchedule &s, int64_t step);

/// Throws std::runtime_error naming the flag when `s` is not a schedule.
void checkLrSchedule(const LrSchedule &s);

} // namespace ppc::rt

#endif
