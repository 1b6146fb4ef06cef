//===- driver/TimeStages.h - Timing whole stages ----------------*- C++ -*-===//
//
// The measuring side of plan refinement (passes/RefinePartition.h): the
// stages of a candidate partition built in memory, run in order on the
// example inputs and timed the way pprun runs them (see TimeStages.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_DRIVER_TIMESTAGES_H
#define PPC_DRIVER_TIMESTAGES_H

#include "frontend/Frontend.h"
#include "passes/RefinePartition.h"

#include <vector>

namespace ppc {

struct StageTimingOptions {
  bool training = false; // forward with autograd, then backward
  /// In training, the loss (runtime/Loss.h) the stage of model output 0
  /// adds to its forward and backs up from, as pprun's does.
  std::string loss = "cross_entropy";
  /// Training for zero-bubble: per-op autograd (the executor's optimizer
  /// off, as pprun runs split backwards) and the input gradients (I) timed
  /// on their own too.
  bool splitBackward = false;
  int minRepeats = 6;
  int maxRepeats = 15;
  double budgetMs = 250; // per stage, beyond the warm-up
};

/// Forward (and backward) milliseconds of each stage of the partition cut at
/// `positions`; needs Model::annotateShapes to have run.
std::vector<StageMeasurement> timeStages(Model &model, const std::vector<unsigned> &positions,
                                         const StageTimingOptions &opts);

} // namespace ppc

#endif
