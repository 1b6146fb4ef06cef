//===- driver/SimulatePlan.cpp - `ppc --simulate SCHEDULE:M=8` ------------===//
//
// Predicts how a schedule will run before anything is launched: per-stage
// forward times from the op costs (measured or analytic), backward as
// measured (with `--for train`) or twice the forward (the usual ratio for
// matmul-bound layers), split into zero-bubble's I and W as measured (with
// `--simulate zero-bubble`) or in halves, transfers from the
// bytes each stage sends (once per consumer) at the link bandwidth, and the
// activation bytes its ops produce per microbatch, all from stageCosts();
// then runs the same schedule generators and simulator that pprun uses.
//
//===----------------------------------------------------------------------===//
#include "driver/SimulatePlan.h"

#include "ir/Diagnostics.h"
#include "passes/CostModel.h"
#include "passes/Partitioner.h"
#include "runtime/schedule/Schedule.h"

#include "llvm/ADT/StringExtras.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include <algorithm>
#include <map>
#include <memory>

using namespace ppc;

SimulateSpec ppc::parseSimulateSpec(llvm::StringRef text) {
  SimulateSpec spec;
  if (text.empty())
    return spec;
  llvm::SmallVector<llvm::StringRef, 4> parts;
  text.split(parts, ':');
  for (size_t i = 1; i < parts.size(); ++i) {
    auto [key, value] = parts[i].split('=');
    int n = 0;
    if (value.getAsInteger(10, n) || n < 1 || (key != "M" && key != "N"))
      throw CompileError("bad --simulate option '" + parts[i].str() + "'",
                         "write --simulate 1f1b:M=8 or --simulate all:M=8:N=2");
    (key == "M" ? spec.microbatches : spec.ranks) = n;
  }
  if (parts[0] == "all")
    spec.schedules = sched::scheduleNames();
  else
    spec.schedules.push_back(parts[0].str());
  return spec;
}

std::string SimulateSpec::memorySchedule() const {
  return schedules.size() == 1 ? schedules.front() : "1f1b";
}

/// Per stage, the moments where it may peak: the schedule run with unit
/// costs, which fix each rank's order of actions and so what it holds.
static std::vector<std::vector<InFlight>> inFlightStates(const std::string &name, int stages,
                                                         int ranks, int microbatches) {
  std::vector<std::vector<InFlight>> states;
  try {
    sched::Schedule s =
        sched::generateSchedule(name, stages, ranks > 0 ? ranks : stages, microbatches, true);
    sched::StageCosts unit;
    for (int k = 0; k < stages; ++k) {
      for (auto *v : {&unit.forwardMs, &unit.backwardMs, &unit.inputGradMs, &unit.weightGradMs,
                      &unit.activationBytes})
        v->push_back(1);
      unit.sendMs.push_back(0);
    }
    for (const auto &stage : sched::simulate(s, unit).liveStates) {
      states.emplace_back();
      for (const sched::LiveMicrobatches &live : stage)
        states.back().push_back({live.full, live.weightOnly});
    }
  } catch (const sched::ScheduleError &) { // e.g. interleaved with one stage a rank
    InFlightFn oneFOneB = inFlightFor("1f1b", microbatches);
    for (int k = 0; k < stages; ++k)
      states.push_back(oneFOneB(k, stages));
  }
  return states;
}

InFlightFn ppc::inFlightOfSchedule(const SimulateSpec &spec) {
  std::string name = spec.memorySchedule();
  int microbatches = spec.microbatches, ranks = spec.ranks;
  auto cache = std::make_shared<std::map<int, std::vector<std::vector<InFlight>>>>();
  return [=](int stage, int stages) {
    auto it = cache->find(stages);
    if (it == cache->end())
      it = cache->emplace(stages, inFlightStates(name, stages, ranks, microbatches)).first;
    return it->second.at(stage);
  };
}

// The stage table is partitionCosts' (passes/Partitioner.h), so the plan, the
// simulation and pipeline.json agree on every byte.
sched::StageCosts ppc::stageCostsForSimulation(const Graph &g, double linkGBps) {
  sched::StageCosts costs;
  std::vector<StageCost> stages = stageCosts(g);
  for (size_t k = 0; k < stages.size(); ++k) {
    const StageCost &c = stages[k];
    bool recomputes = g.recomputes(int(k));
    double backward = c.backwardMs > 0 ? c.backwardMs : 2 * c.forwardMs;
    // A recomputing stage keeps only its inputs until its backward re-runs the forward.
    costs.forwardMs.push_back(c.forwardMs);
    costs.sendMs.push_back(c.sendBytes / (linkGBps * 1e9) * 1e3);
    costs.activationBytes.push_back(c.inputBytes + (recomputes ? 0 : keptActivationBytes(c)));
    costs.weightKeptBytes.push_back(c.inputBytes + (recomputes ? 0 : keptWeightBytes(c)));
    costs.backwardMs.push_back(backward);
    // I and W as measured where the stages were timed with a split backward.
    double inputGrad = c.inputGradMs >= 0 ? c.inputGradMs : backward / 2;
    costs.inputGradMs.push_back(inputGrad);
    costs.weightGradMs.push_back(backward - inputGrad);
  }
  return costs;
}

void ppc::printSimulation(const Graph &g, const SimulateSpec &spec, const PartitionOptions &po,
                          llvm::raw_ostream &out) {
  SimulateSpec s = spec;
  if (s.ranks == 0)
    s.ranks = g.numStages;
  sched::StageCosts costs = stageCostsForSimulation(g, po.linkGBps);
  if (std::all_of(costs.forwardMs.begin(), costs.forwardMs.end(), [](double t) { return t == 0; }))
    throw CompileError("--simulate has no op costs to work with",
                       "pass --example-inputs IO.pt so that ppc knows tensor shapes");
  std::vector<StageCost> stages = stageCosts(g, po);
  out << "simulation (M=" << s.microbatches << ", " << g.numStages << " stages on " << s.ranks
      << " ranks, training step):\n";
  out << "  schedule              step ms   bubble   peak memory MB per stage (activations)\n";
  for (const std::string &name : s.schedules) {
    sched::Schedule schedule;
    try {
      schedule = sched::generateSchedule(name, g.numStages, s.ranks, s.microbatches, true);
    } catch (const sched::ScheduleError &e) {
      if (s.schedules.size() == 1)
        throw CompileError(std::string("--simulate: ") + e.what());
      out << llvm::format("  %-18s  (not applicable: %s)\n", name.c_str(), e.what());
      continue;
    }
    sched::Simulation sim = sched::simulate(schedule, costs);
    std::string peaks;
    for (size_t k = 0; k < sim.peakActivationBytes.size(); ++k) {
      double state = heldBytes(stages[k], po);
      double activations =
          sim.peakActivationBytes[k] + (g.recomputes(int(k)) ? keptActivationBytes(stages[k]) : 0);
      peaks +=
          llvm::formatv(" {0:f2} ({1:f2})", (state + activations) / 1e6, activations / 1e6).str();
    }
    out << llvm::format("  %-18s %9.3f  %6.1f%%  ", name.c_str(), sim.stepMs,
                        100 * sim.bubbleFraction)
        << peaks << "\n";
  }
}
