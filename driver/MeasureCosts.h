//===- driver/MeasureCosts.h - Timing op regions ----------------*- C++ -*-===//
//
// Measured per-op costs for `--balance time`: regions between the given op
// indices are timed on the example inputs (see MeasureCosts.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_DRIVER_MEASURECOSTS_H
#define PPC_DRIVER_MEASURECOSTS_H

#include "frontend/Frontend.h"

#include <vector>

namespace ppc {

/// Fills Op::cost.timeMs; needs Model::annotateShapes to have run.
void measureRegionCosts(Model &model, const std::vector<unsigned> &boundaries, int repeats = 3);

} // namespace ppc

#endif
