//===- runtime/schedule/UnitSimulation.h - Dependency simulation -*- C++ -*-===//
//
// Runs each rank's action list in order with blocking dependencies: an action
// starts once its rank is free and the actions it needs have finished. With
// unit durations this validates a schedule (no deadlock) and lays out the
// --print-schedule grid; with costs it predicts time (Simulation.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_SCHEDULE_UNITSIMULATION_H
#define PPC_RUNTIME_SCHEDULE_UNITSIMULATION_H

#include "runtime/schedule/Schedule.h"

#include <optional>
#include <vector>

namespace ppc::sched {

/// The actions `a` waits for (same microbatch; the previous or next stage).
std::vector<Action> dependencies(const Action &a, const Schedule &s);

struct UnitRun {
  int steps = 0;
  std::vector<std::vector<int>> startStep; // per rank, per action
};

/// Unit-time run; throws ScheduleError naming the stuck actions on deadlock.
UnitRun runUnitTime(const Schedule &s);

} // namespace ppc::sched

#endif
