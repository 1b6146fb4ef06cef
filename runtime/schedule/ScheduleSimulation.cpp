//===- runtime/schedule/ScheduleSimulation.cpp - Validation and timing ----===//
//
// Both simulations walk the ranks' lists in order and start an action when
// its dependencies are done: in unit time for validation and the grid, with
// per-stage costs (and transfer time between ranks) for predictions. Peak
// activation memory counts, per stage, microbatches whose forward has run and
// whose backward (or weight-grad) has not.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Schedule.h"
#include "runtime/schedule/UnitSimulation.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

using namespace ppc::sched;

namespace {

using Key = std::tuple<int, ActionKind, int>;

Key keyOf(const Action &a) { return {a.stage, a.kind, a.microbatch}; }

bool usesSplitBackward(const Schedule &s) {
  for (const auto &rank : s.ranks)
    for (const Action &a : rank)
      if (a.kind == ActionKind::InputGrad || a.kind == ActionKind::WeightGrad)
        return true;
  return false;
}

/// The action that carries the gradient of (stage, mb): B, or I when split.
ActionKind gradKind(const Schedule &s) {
  return usesSplitBackward(s) ? ActionKind::InputGrad : ActionKind::Backward;
}

void checkCounts(const Schedule &s) {
  if (int(s.ranks.size()) != s.numRanks)
    throw ScheduleError("schedule has " + std::to_string(s.ranks.size()) + " rank lists for " +
                        std::to_string(s.numRanks) + " ranks");
  std::map<Key, int> seen;
  for (int r = 0; r < s.numRanks; ++r)
    for (const Action &a : s.ranks[r]) {
      if (a.stage < 0 || a.stage >= s.numStages || a.microbatch < 0 ||
          a.microbatch >= s.numMicrobatches)
        throw ScheduleError("action " + a.str() + " is out of range (" +
                            std::to_string(s.numStages) + " stages, " +
                            std::to_string(s.numMicrobatches) + " microbatches)");
      if (rankOfStage(a.stage, s.numRanks) != r)
        throw ScheduleError("action " + a.str() + " is on rank " + std::to_string(r) +
                            ", but stage " + std::to_string(a.stage) + " lives on rank " +
                            std::to_string(rankOfStage(a.stage, s.numRanks)));
      if (!s.training && a.kind != ActionKind::Forward)
        throw ScheduleError("action " + a.str() + " in an inference schedule");
      if (++seen[keyOf(a)] > 1)
        throw ScheduleError("action " + a.str() + " appears twice");
    }
  bool split = usesSplitBackward(s);
  for (int st = 0; st < s.numStages; ++st)
    for (int m = 0; m < s.numMicrobatches; ++m) {
      std::vector<ActionKind> needed{ActionKind::Forward};
      if (s.training && split)
        needed.insert(needed.end(), {ActionKind::InputGrad, ActionKind::WeightGrad});
      else if (s.training)
        needed.push_back(ActionKind::Backward);
      for (ActionKind k : needed)
        if (!seen.count({st, k, m}))
          throw ScheduleError("schedule lacks action " + Action{st, k, m}.str());
    }
  if (split)
    for (const auto &[key, n] : seen)
      if (std::get<1>(key) == ActionKind::Backward)
        throw ScheduleError("schedule mixes B with I/W actions");
}

/// Runs the lists; `duration(a)` and `transfer(dep, a)` give times. Returns
/// the start and end time of every action, per rank.
struct TimedRun {
  std::vector<std::vector<double>> start, end;
};

TimedRun runTimed(const Schedule &s, const std::function<double(const Action &)> &duration,
                  const std::function<double(const Action &, const Action &)> &transfer) {
  TimedRun run;
  run.start.resize(s.numRanks);
  run.end.resize(s.numRanks);
  std::map<Key, double> doneAt;
  std::vector<size_t> next(s.numRanks, 0);
  std::vector<double> free(s.numRanks, 0);
  size_t remaining = 0;
  for (const auto &rank : s.ranks)
    remaining += rank.size();
  while (remaining > 0) {
    bool progressed = false;
    for (int r = 0; r < s.numRanks; ++r) {
      if (next[r] >= s.ranks[r].size())
        continue;
      const Action &a = s.ranks[r][next[r]];
      double ready = free[r];
      bool blocked = false;
      for (const Action &dep : dependencies(a, s)) {
        auto it = doneAt.find(keyOf(dep));
        if (it == doneAt.end()) {
          blocked = true;
          break;
        }
        ready = std::max(ready, it->second + transfer(dep, a));
      }
      if (blocked)
        continue;
      run.start[r].push_back(ready);
      free[r] = ready + duration(a);
      run.end[r].push_back(free[r]);
      doneAt[keyOf(a)] = free[r];
      ++next[r];
      --remaining;
      progressed = true;
    }
    if (progressed)
      continue;
    std::string stuck;
    for (int r = 0; r < s.numRanks; ++r)
      if (next[r] < s.ranks[r].size())
        stuck += " rank " + std::to_string(r) + " waits at " + s.ranks[r][next[r]].str() + ";";
    throw ScheduleError("schedule deadlocks:" + stuck);
  }
  return run;
}

} // namespace

std::vector<Action> ppc::sched::dependencies(const Action &a, const Schedule &s) {
  std::vector<Action> deps;
  int last = s.numStages - 1;
  switch (a.kind) {
  case ActionKind::Forward:
    if (a.stage > 0)
      deps.push_back({a.stage - 1, ActionKind::Forward, a.microbatch});
    break;
  case ActionKind::Backward:
  case ActionKind::InputGrad:
    deps.push_back({a.stage, ActionKind::Forward, a.microbatch});
    if (a.stage < last)
      deps.push_back({a.stage + 1, gradKind(s), a.microbatch});
    break;
  case ActionKind::WeightGrad:
    deps.push_back({a.stage, ActionKind::InputGrad, a.microbatch});
    break;
  }
  return deps;
}

UnitRun ppc::sched::runUnitTime(const Schedule &s) {
  // Unit steps: an action may start one step after its dependencies end.
  TimedRun timed = runTimed(
      s, [](const Action &) { return 1.0; }, [](const Action &, const Action &) { return 0.0; });
  UnitRun run;
  for (int r = 0; r < s.numRanks; ++r) {
    std::vector<int> steps;
    for (double t : timed.start[r])
      steps.push_back(int(t + 0.5));
    for (double t : timed.end[r])
      run.steps = std::max(run.steps, int(t + 0.5));
    run.startStep.push_back(steps);
  }
  return run;
}

void ppc::sched::validateSchedule(const Schedule &s) {
  checkCounts(s);
  runUnitTime(s);
}

static double actionCost(const Action &a, const StageCosts &c) {
  auto at = [&](const std::vector<double> &v) { return a.stage < int(v.size()) ? v[a.stage] : 0; };
  double b = at(c.backwardMs);
  switch (a.kind) {
  case ActionKind::Forward:
    return at(c.forwardMs);
  case ActionKind::Backward:
    return b;
  case ActionKind::InputGrad:
    return at(c.inputGradMs) > 0 ? at(c.inputGradMs) : b / 2;
  case ActionKind::WeightGrad:
    return at(c.weightGradMs) > 0 ? at(c.weightGradMs) : b / 2;
  }
  return 0;
}

static std::vector<double> peakActivations(const Schedule &s, const TimedRun &run,
                                           const StageCosts &costs) {
  // +1 when a forward ends, -1 when the action that frees it ends.
  ActionKind frees = usesSplitBackward(s) ? ActionKind::WeightGrad : ActionKind::Backward;
  std::vector<std::vector<std::pair<double, int>>> events(s.numStages);
  for (int r = 0; r < s.numRanks; ++r)
    for (size_t i = 0; i < s.ranks[r].size(); ++i) {
      const Action &a = s.ranks[r][i];
      if (a.kind == ActionKind::Forward)
        events[a.stage].push_back({run.end[r][i], +1});
      else if (a.kind == frees)
        events[a.stage].push_back({run.end[r][i], -1});
    }
  std::vector<double> peaks;
  for (int st = 0; st < s.numStages; ++st) {
    std::sort(events[st].begin(), events[st].end());
    int live = 0, most = 0;
    for (auto &[t, delta] : events[st])
      most = std::max(most, live += delta);
    double bytes = st < int(costs.activationBytes.size()) ? costs.activationBytes[st] : 0;
    peaks.push_back(most * bytes);
  }
  return peaks;
}

Simulation ppc::sched::simulate(const Schedule &s, const StageCosts &costs) {
  auto duration = [&](const Action &a) { return actionCost(a, costs); };
  auto transfer = [&](const Action &dep, const Action &a) {
    if (rankOfStage(dep.stage, s.numRanks) == rankOfStage(a.stage, s.numRanks))
      return 0.0;
    int sender = dep.stage; // forward sends from dep.stage; gradients flow back the same link
    return sender < int(costs.sendMs.size()) ? costs.sendMs[sender] : 0.0;
  };
  TimedRun run = runTimed(s, duration, transfer);
  Simulation sim;
  sim.busyMs.assign(s.numRanks, 0);
  sim.timeline.resize(s.numRanks);
  for (int r = 0; r < s.numRanks; ++r)
    for (size_t i = 0; i < s.ranks[r].size(); ++i) {
      sim.stepMs = std::max(sim.stepMs, run.end[r][i]);
      sim.busyMs[r] += run.end[r][i] - run.start[r][i];
      sim.timeline[r].push_back({s.ranks[r][i], run.start[r][i], run.end[r][i]});
    }
  double busy = 0;
  for (double b : sim.busyMs)
    busy += b;
  sim.bubbleFraction = sim.stepMs > 0 ? 1 - busy / (s.numRanks * sim.stepMs) : 0;
  sim.peakActivationBytes = peakActivations(s, run, costs);
  return sim;
}
