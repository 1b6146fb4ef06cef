//===- driver/SimulatePlan.cpp - `ppc --simulate SCHEDULE:M=8` ------------===//
//
// Predicts how a schedule will run before anything is launched: per-stage
// forward times from the op costs (measured or analytic), backward as twice
// the forward (the usual ratio for matmul-bound layers), transfers from the
// bytes crossing each stage's boundary at the link bandwidth, and the
// activation bytes a microbatch keeps alive per stage; then runs the same
// schedule generators and simulator that pprun uses.
//
//===----------------------------------------------------------------------===//
#include "driver/SimulatePlan.h"

#include "ir/Diagnostics.h"
#include "passes/CostModel.h"
#include "runtime/schedule/Schedule.h"

#include "llvm/ADT/StringExtras.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include <algorithm>

using namespace ppc;

namespace {

struct SimulateSpec {
  std::vector<std::string> schedules;
  int microbatches = 8;
  int ranks = 0; // 0: one rank per stage
};

SimulateSpec parseSpec(llvm::StringRef text, int numStages) {
  SimulateSpec spec;
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
  if (spec.ranks == 0)
    spec.ranks = numStages;
  return spec;
}

} // namespace

sched::StageCosts ppc::stageCostsForSimulation(const Graph &g, double linkGBps) {
  sched::StageCosts costs;
  int S = g.numStages;
  costs.forwardMs.assign(S, 0);
  costs.sendMs.assign(S, 0);
  costs.activationBytes.assign(S, 0);
  for (const auto &op : g.ops())
    costs.forwardMs[op->stage] += op->cost.timeMs;
  for (const CrossStageValue &c : g.crossStage) {
    if (c.producer < 0)
      continue;
    double bytes = double(transferBytes(*c.value));
    costs.sendMs[c.producer] += bytes / (linkGBps * 1e9) * 1e3;
  }
  for (int k = 0; k < S; ++k) {
    for (const Value *v : g.stageInterfaces[k].outputs)
      costs.activationBytes[k] += std::max<int64_t>(0, v->tensor.bytes());
    costs.backwardMs.push_back(2 * costs.forwardMs[k]);
    costs.inputGradMs.push_back(costs.forwardMs[k]);
    costs.weightGradMs.push_back(costs.forwardMs[k]);
  }
  return costs;
}

void ppc::printSimulation(const Graph &g, llvm::StringRef spec, double linkGBps,
                          llvm::raw_ostream &out) {
  SimulateSpec s = parseSpec(spec, g.numStages);
  sched::StageCosts costs = stageCostsForSimulation(g, linkGBps);
  if (std::all_of(costs.forwardMs.begin(), costs.forwardMs.end(), [](double t) { return t == 0; }))
    throw CompileError("--simulate has no op costs to work with",
                       "pass --example-inputs IO.pt so that ppc knows tensor shapes");
  out << "simulation (M=" << s.microbatches << ", " << g.numStages << " stages on " << s.ranks
      << " ranks, training step):\n";
  out << "  schedule              step ms   bubble   peak activation MB per stage\n";
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
    for (double b : sim.peakActivationBytes)
      peaks += llvm::formatv(" {0:f2}", b / 1e6).str();
    out << llvm::format("  %-18s %9.3f  %6.1f%%  ", name.c_str(), sim.stepMs,
                        100 * sim.bubbleFraction)
        << peaks << "\n";
  }
}
