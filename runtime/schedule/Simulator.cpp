//===- runtime/schedule/Simulator.cpp - Predicted step time and memory ----===//
//
// Replays a schedule with per-stage costs: an action lasts its stage's F, B,
// I or W time (I and W default to half of B), and an edge between ranks adds
// the transfer time of the stage boundary it crosses (forward activations and
// their gradients cross the same boundary; edges within a rank are free).
// From the timeline come the step time, busy time per rank, the bubble, and
// peak activation memory per stage: in training a microbatch holds its
// activations from the start of its F to the end of its B, or with a split
// backward all of them until its I ends and what W needs until its W ends;
// in inference only while its F runs.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Replay.h"
#include "runtime/schedule/Schedule.h"

#include <algorithm>

using namespace ppc::sched;

static double costAt(const std::vector<double> &costs, int stage) {
  return stage < int(costs.size()) ? costs[stage] : 0;
}

static double actionMs(const Action &a, const StageCosts &c) {
  double backward = costAt(c.backwardMs, a.stage);
  double part = 0;
  switch (a.kind) {
  case ActionKind::Forward:
    return costAt(c.forwardMs, a.stage);
  case ActionKind::Backward:
    return backward;
  case ActionKind::InputGrad:
    part = costAt(c.inputGradMs, a.stage);
    break;
  case ActionKind::WeightGrad:
    part = costAt(c.weightGradMs, a.stage);
    break;
  }
  return part > 0 ? part : backward / 2;
}

namespace {

/// A change in what a stage holds; at one instant frees go first, then I's
/// release, then takes, so that back-to-back actions do not overlap.
struct LiveEvent {
  double at = 0;
  int order = 0; // 0 free, 1 I's release, 2 take
  int full = 0, weightOnly = 0;
  bool operator<(const LiveEvent &o) const { return at != o.at ? at < o.at : order < o.order; }
};

std::vector<std::vector<LiveEvent>> liveEvents(const Schedule &s, const ReplayTimes &times) {
  std::vector<std::vector<LiveEvent>> events(s.numStages);
  for (int r = 0; r < s.numRanks; ++r)
    for (size_t i = 0; i < s.ranks[r].size(); ++i) {
      const Action &a = s.ranks[r][i];
      double start = times.start[r][i], end = times.end[r][i];
      auto &stage = events[a.stage];
      switch (a.kind) {
      case ActionKind::Forward:
        stage.push_back({start, 2, +1, 0});
        if (!s.training)
          stage.push_back({end, 0, -1, 0});
        break;
      case ActionKind::Backward:
        stage.push_back({end, 0, -1, 0});
        break;
      case ActionKind::InputGrad:
        stage.push_back({end, 1, -1, +1});
        break;
      case ActionKind::WeightGrad:
        stage.push_back({end, 0, 0, -1});
        break;
      }
    }
  return events;
}

std::vector<LiveMicrobatches> statesOf(std::vector<LiveEvent> events) {
  std::sort(events.begin(), events.end());
  std::vector<LiveMicrobatches> states;
  LiveMicrobatches live;
  for (const LiveEvent &e : events) {
    live.full += e.full;
    live.weightOnly += e.weightOnly;
    if (std::find(states.begin(), states.end(), live) == states.end())
      states.push_back(live);
  }
  return states;
}

} // namespace

/// Per stage, the largest of what it holds after any change, in bytes.
static std::vector<double> peakBytes(const std::vector<std::vector<LiveMicrobatches>> &states,
                                     const StageCosts &costs) {
  std::vector<double> peaks;
  for (size_t stage = 0; stage < states.size(); ++stage) {
    double full = costAt(costs.activationBytes, int(stage));
    double kept = stage < costs.weightKeptBytes.size() && costs.weightKeptBytes[stage] >= 0
                      ? costs.weightKeptBytes[stage]
                      : full;
    double most = 0;
    for (const LiveMicrobatches &live : states[stage])
      most = std::max(most, live.full * full + live.weightOnly * kept);
    peaks.push_back(most);
  }
  return peaks;
}

Simulation ppc::sched::simulate(const Schedule &s, const StageCosts &costs) {
  validateSchedule(s);
  auto duration = [&](const Action &a) { return actionMs(a, costs); };
  auto transfer = [&](const Action &from, const Action &to) {
    if (rankOfStage(from.stage, s.numRanks) == rankOfStage(to.stage, s.numRanks))
      return 0.0;
    return costAt(costs.sendMs, std::min(from.stage, to.stage));
  };
  ReplayTimes times = Replay(s).run(duration, transfer);
  Simulation sim;
  sim.busyMs.assign(s.numRanks, 0);
  sim.timeline.resize(s.numRanks);
  for (int r = 0; r < s.numRanks; ++r)
    for (size_t i = 0; i < s.ranks[r].size(); ++i) {
      sim.stepMs = std::max(sim.stepMs, times.end[r][i]);
      sim.busyMs[r] += times.end[r][i] - times.start[r][i];
      sim.timeline[r].push_back({s.ranks[r][i], times.start[r][i], times.end[r][i]});
    }
  double busy = 0;
  for (double b : sim.busyMs)
    busy += b;
  sim.bubbleFraction = sim.stepMs > 0 ? 1 - busy / (s.numRanks * sim.stepMs) : 0;
  for (const std::vector<LiveEvent> &events : liveEvents(s, times))
    sim.liveStates.push_back(statesOf(events));
  sim.peakActivationBytes = peakBytes(sim.liveStates, costs);
  return sim;
}
