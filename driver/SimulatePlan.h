//===- driver/SimulatePlan.h - Schedule simulation from costs ---*- C++ -*-===//
//
// `ppc --simulate`: predicted step time, bubble and peak activation memory of
// built-in schedules on a partitioned graph's costs.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_DRIVER_SIMULATEPLAN_H
#define PPC_DRIVER_SIMULATEPLAN_H

#include "ir/Graph.h"
#include "runtime/schedule/Schedule.h"

#include "llvm/Support/raw_ostream.h"

namespace ppc {

/// Per-stage costs of a partitioned graph with cross-stage values found.
sched::StageCosts stageCostsForSimulation(const Graph &g, double linkGBps);

/// Prints the simulation of `spec` ("1f1b:M=8", "all:M=8:N=2").
void printSimulation(const Graph &g, llvm::StringRef spec, double linkGBps, llvm::raw_ostream &out);

} // namespace ppc

#endif
