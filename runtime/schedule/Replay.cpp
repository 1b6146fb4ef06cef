//===- runtime/schedule/Replay.cpp - Running action lists in order --------===//
//
// The replay behind validation, the grid and the simulator. Each sweep lets
// every rank run as far as its dependencies allow; a sweep in which no rank
// moves is a deadlock. Start times depend only on dependencies and the rank's
// previous action, never on the sweep order, so results are deterministic.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Replay.h"

#include <algorithm>

using namespace ppc::sched;

static constexpr double NotDone = -1;

Replay::Replay(const Schedule &s)
    : s(s), splitBackward(size_t(s.numStages) * s.numMicrobatches, false) {
  for (const auto &list : s.ranks)
    for (const Action &a : list)
      if (a.kind == ActionKind::InputGrad)
        splitBackward[size_t(a.stage) * s.numMicrobatches + a.microbatch] = true;
}

llvm::SmallVector<Action, 2> Replay::dependencies(const Action &a) const {
  llvm::SmallVector<Action, 2> deps;
  int next = a.stage + 1;
  switch (a.kind) {
  case ActionKind::Forward:
    if (a.stage > 0)
      deps.push_back({a.stage - 1, ActionKind::Forward, a.microbatch});
    break;
  case ActionKind::Backward:
  case ActionKind::InputGrad:
    deps.push_back({a.stage, ActionKind::Forward, a.microbatch});
    if (next < s.numStages) {
      bool split = splitBackward[size_t(next) * s.numMicrobatches + a.microbatch];
      deps.push_back({next, split ? ActionKind::InputGrad : ActionKind::Backward, a.microbatch});
    }
    break;
  case ActionKind::WeightGrad:
    deps.push_back({a.stage, ActionKind::InputGrad, a.microbatch});
    break;
  }
  return deps;
}

std::optional<double> Replay::readyTime(const Action &a, double rankFree,
                                        const std::vector<double> &endOf, Transfer transfer) const {
  double ready = rankFree;
  for (const Action &dep : dependencies(a)) {
    double end = endOf[slotOf(dep, s)];
    if (end == NotDone)
      return std::nullopt;
    ready = std::max(ready, end + transfer(dep, a));
  }
  return ready;
}

std::string Replay::deadlock(const std::vector<size_t> &next,
                             const std::vector<double> &endOf) const {
  std::string message = "schedule deadlocks:";
  const char *separator = " ";
  for (int r = 0; r < s.numRanks; ++r) {
    if (next[r] >= s.ranks[r].size())
      continue;
    const Action &a = s.ranks[r][next[r]];
    message += separator + ("rank " + std::to_string(r) + " is stuck at " + a.str());
    for (const Action &dep : dependencies(a))
      if (endOf[slotOf(dep, s)] == NotDone) {
        message += " (needs " + dep.str() + ")";
        break;
      }
    separator = "; ";
  }
  return message;
}

ReplayTimes Replay::run(Duration duration, Transfer transfer) const {
  ReplayTimes times;
  times.start.resize(s.numRanks);
  times.end.resize(s.numRanks);
  std::vector<double> endOf(numSlots(s), NotDone);
  std::vector<size_t> next(s.numRanks, 0);
  std::vector<double> rankFree(s.numRanks, 0);
  size_t left = 0;
  for (const auto &list : s.ranks)
    left += list.size();
  while (left > 0) {
    size_t before = left;
    for (int r = 0; r < s.numRanks; ++r) {
      for (; next[r] < s.ranks[r].size(); ++next[r], --left) {
        const Action &a = s.ranks[r][next[r]];
        std::optional<double> ready = readyTime(a, rankFree[r], endOf, transfer);
        if (!ready)
          break;
        rankFree[r] = *ready + duration(a);
        times.start[r].push_back(*ready);
        times.end[r].push_back(rankFree[r]);
        endOf[slotOf(a, s)] = rankFree[r];
      }
    }
    if (left == before)
      throw ScheduleError(deadlock(next, endOf));
  }
  return times;
}

ReplayTimes Replay::runUnitTime() const {
  return run([](const Action &) { return 1.0; },
             [](const Action &, const Action &) { return 0.0; });
}
