//===- runtime/schedule/Replay.h - Running action lists in order -*- C++ -*-===//
//
// Replays each rank's action list in order with blocking dependencies, the way
// the executor runs it: an action starts once its rank is free and the actions
// it needs have ended (plus transfer time). F(s,m) needs F(s-1,m); B or I(s,m)
// needs F(s,m) and the gradient of (s+1,m), its B or I; W(s,m) needs I(s,m).
// Validation and the grid replay with unit durations, the simulator with
// per-stage costs. Internal to the schedule library: the schedule must have
// passed the structural checks of validateSchedule (actions in range).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_SCHEDULE_REPLAY_H
#define PPC_RUNTIME_SCHEDULE_REPLAY_H

#include "runtime/schedule/Schedule.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>
#include <vector>

namespace ppc::sched {

/// A flat table with one slot per (stage, microbatch, kind) of `s`.
inline size_t numSlots(const Schedule &s) { return size_t(s.numStages) * s.numMicrobatches * 4; }
inline size_t slotOf(const Action &a, const Schedule &s) {
  return (size_t(a.stage) * s.numMicrobatches + a.microbatch) * 4 + size_t(a.kind);
}

/// When each action starts and ends, per rank, in list order.
struct ReplayTimes {
  std::vector<std::vector<double>> start, end;
};

class Replay {
public:
  using Duration = llvm::function_ref<double(const Action &)>;
  using Transfer = llvm::function_ref<double(const Action &from, const Action &to)>;

  explicit Replay(const Schedule &s);

  /// The actions `a` waits for.
  llvm::SmallVector<Action, 2> dependencies(const Action &a) const;

  /// Runs every list to its end; throws ScheduleError naming each rank's
  /// stuck action and what it waits for if no rank can go on.
  ReplayTimes run(Duration duration, Transfer transfer) const;

  /// Unit durations, free transfers.
  ReplayTimes runUnitTime() const;

private:
  std::optional<double> readyTime(const Action &a, double rankFree,
                                  const std::vector<double> &endOf, Transfer transfer) const;
  std::string deadlock(const std::vector<size_t> &next, const std::vector<double> &endOf) const;

  const Schedule &s;
  /// Per stage and microbatch: whether its gradient comes from I (else B).
  std::vector<bool> splitBackward;
};

} // namespace ppc::sched

#endif
