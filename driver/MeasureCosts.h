//===- driver/MeasureCosts.h - Timing op regions ----------------*- C++ -*-===//
//
// Measured per-op costs for `--balance time`: regions between the given op
// indices are timed on the example inputs, forward and, for the training
// planner, backward (see MeasureCosts.cpp). A region that cannot be timed
// keeps its analytic cost, with one warning.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_DRIVER_MEASURECOSTS_H
#define PPC_DRIVER_MEASURECOSTS_H

#include "frontend/Frontend.h"

#include <vector>

namespace llvm {
class raw_ostream;
} // namespace llvm

namespace ppc {

struct MeasureOptions {
  int repeats = 3;       // timed runs after the warm-up; the median counts
  bool backward = false; // also time each region's backward (Op::cost.backwardMs)
};

/// Fills Op::cost.timeMs (and backwardMs with `opts.backward`); needs
/// Model::annotateShapes to have run. Regions that cannot be timed are
/// reported on `warnings`, one line each.
void measureRegionCosts(Model &model, const std::vector<unsigned> &boundaries,
                        const MeasureOptions &opts, llvm::raw_ostream &warnings);

} // namespace ppc

#endif
