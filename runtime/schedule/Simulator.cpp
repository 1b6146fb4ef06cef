//===- runtime/schedule/Simulator.cpp - Predicted step time and memory ----===//
//
// Replays a schedule with per-stage costs: an action lasts its stage's F, B,
// I or W time (I and W default to half of B), and an edge between ranks adds
// the transfer time of the stage boundary it crosses (forward activations and
// their gradients cross the same boundary; edges within a rank are free).
// From the timeline come the step time, busy time per rank, the bubble, and
// peak activation memory per stage: in training a microbatch holds its
// activations from the start of its F to the end of its B or W; in inference
// only while its F runs.
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

/// Live microbatches per stage over time: +1 when activations are taken,
/// -1 when freed; frees sort before takes at the same instant.
static std::vector<double> peakActivations(const Schedule &s, const ReplayTimes &times,
                                           const StageCosts &costs) {
  std::vector<std::vector<std::pair<double, int>>> events(s.numStages);
  for (int r = 0; r < s.numRanks; ++r)
    for (size_t i = 0; i < s.ranks[r].size(); ++i) {
      const Action &a = s.ranks[r][i];
      double start = times.start[r][i], end = times.end[r][i];
      if (a.kind == ActionKind::Forward)
        events[a.stage].push_back({start, +1});
      if (a.kind == ActionKind::Backward || a.kind == ActionKind::WeightGrad ||
          (!s.training && a.kind == ActionKind::Forward))
        events[a.stage].push_back({end, -1});
    }
  std::vector<double> peaks;
  for (int stage = 0; stage < s.numStages; ++stage) {
    std::sort(events[stage].begin(), events[stage].end());
    int live = 0, most = 0;
    for (const auto &event : events[stage])
      most = std::max(most, live += event.second);
    peaks.push_back(most * costAt(costs.activationBytes, stage));
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
  sim.peakActivationBytes = peakActivations(s, times, costs);
  return sim;
}
