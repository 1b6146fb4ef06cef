//===- driver/SimulatePlan.h - Schedule simulation from costs ---*- C++ -*-===//
//
// `ppc --simulate`: predicted step time, bubble and peak activation memory of
// built-in schedules on a partitioned graph's costs.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_DRIVER_SIMULATEPLAN_H
#define PPC_DRIVER_SIMULATEPLAN_H

#include "ir/Graph.h"
#include "passes/Partitioner.h"
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

/// Microbatches whose activations each stage keeps at once under the
/// schedule `spec` bounds memory by: counted on the action lists of that
/// schedule's generator, as the simulator counts them, for any stage count
/// (1F1B's formula where the schedule needs more stages than ranks).
InFlightFn inFlightOfSchedule(const SimulateSpec &spec);

/// Per-stage costs of a partitioned graph with cross-stage values found;
/// backward is the measured one where there is one, else twice the forward.
sched::StageCosts stageCostsForSimulation(const Graph &g, double linkGBps);

/// Prints the simulation of `spec` on a partitioned graph: step time, bubble
/// and each stage's peak memory (what it holds under `po`, heldBytes, and the
/// activations and inputs in flight).
void printSimulation(const Graph &g, const SimulateSpec &spec, const PartitionOptions &po,
                     llvm::raw_ostream &out);

} // namespace ppc

#endif
