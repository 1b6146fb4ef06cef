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

/// `--simulate SCHEDULE[:M=8][:N=2]` or `all:...`, parsed once for both the
/// simulation and the activations in flight the partitioner assumes.
struct SimulateSpec {
  static constexpr int kDefaultMicrobatches = 8;
  std::vector<std::string> schedules; // empty: no --simulate
  int microbatches = kDefaultMicrobatches;
  int ranks = 0; // 0: one rank per stage
  /// The schedule whose activations in flight bound memory: the one named,
  /// or 1F1B for `all` and for no --simulate.
  std::string memorySchedule() const;
};

/// CompileError on a malformed spec; an empty text gives the defaults.
SimulateSpec parseSimulateSpec(llvm::StringRef text);

/// Per-stage costs of a partitioned graph with cross-stage values found.
sched::StageCosts stageCostsForSimulation(const Graph &g, double linkGBps);

/// Prints the simulation of `spec` on a partitioned graph.
void printSimulation(const Graph &g, const SimulateSpec &spec, double linkGBps,
                     llvm::raw_ostream &out);

} // namespace ppc

#endif
