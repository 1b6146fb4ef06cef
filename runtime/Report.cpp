//===- runtime/Report.cpp - Report, trace and result files ----------------===//
//
// The ideal bound uses the slowest stage's measured time per microbatch (its
// F, plus B or I+W when training) from the same run, so it needs no separate
// calibration. Steps after the first are averaged when there are several,
// the first being warm-up.
//
//===----------------------------------------------------------------------===//
#include "runtime/Report.h"

#include <torch/serialize.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <map>

using namespace ppc::rt;
using json = nlohmann::ordered_json;

double ppc::rt::peakRssMb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0)
      return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

/// The steps that count: all but the first when there are several.
static std::vector<const StepRecord *> measuredSteps(const RunSummary &run) {
  std::vector<const StepRecord *> out;
  for (size_t i = run.steps.size() > 1 ? 1 : 0; i < run.steps.size(); ++i)
    out.push_back(&run.steps[i]);
  return out;
}

void ppc::rt::writeReport(const std::string &path, const RunSummary &run) {
  const sched::Schedule &s = *run.schedule;
  auto steps = measuredSteps(run);
  double stepMs = 0;
  std::vector<double> busy(s.numRanks, 0);
  std::map<int, double> stageMs;      // per stage, summed over microbatches
  std::map<int, double> stageCompute; // the part inside the model
  std::vector<double> rankCompute(s.numRanks, 0);
  for (const StepRecord *step : steps) {
    stepMs += step->stepMs / steps.size();
    for (int r = 0; r < s.numRanks; ++r)
      for (size_t i = 0; i < s.ranks[r].size(); ++i) {
        const ActionTiming &t = step->timings[r][i];
        double waited = 0;
        for (const TransferSpan &x : step->transfers[r])
          if (x.startMs >= t.startMs && x.endMs <= t.endMs)
            waited += x.endMs - x.startMs;
        double work = t.endMs - t.startMs - waited;
        busy[r] += work / steps.size();
        stageMs[s.ranks[r][i].stage] += work / steps.size();
        stageCompute[s.ranks[r][i].stage] += t.computeMs / steps.size();
        rankCompute[r] += t.computeMs / steps.size();
      }
  }
  double slowest = 0;
  json stages = json::array();
  for (auto &[stage, ms] : stageMs) {
    double perMb = ms / s.numMicrobatches;
    slowest = std::max(slowest, perMb);
    stages.push_back({{"stage", stage},
                      {"ms_per_microbatch", perMb},
                      {"compute_ms_per_microbatch", stageCompute[stage] / s.numMicrobatches}});
  }
  json ranks = json::array();
  double busyTotal = 0;
  for (int r = 0; r < s.numRanks; ++r) {
    busyTotal += busy[r];
    ranks.push_back({{"rank", r}, {"busy_ms", busy[r]}, {"idle_ms", stepMs - busy[r]}});
  }
  double ideal = (s.numMicrobatches + s.numStages - 1) * slowest;
  json losses = json::array();
  for (const StepRecord &step : run.steps)
    losses.push_back(step.loss);
  json doc = {
      {"schedule", s.name},
      {"stages", s.numStages},
      {"ranks", s.numRanks},
      {"microbatches", s.numMicrobatches},
      {"batch", run.batch},
      {"training", run.training},
      {"steps", run.steps.size()},
      {"step_ms", stepMs},
      {"samples_per_s", stepMs > 0 ? run.batch * 1000.0 / stepMs : 0},
      {"bubble", stepMs > 0 ? 1 - busyTotal / (s.numRanks * stepMs) : 0},
      {"ideal_ms", ideal},
      {"ideal_over_measured", stepMs > 0 ? ideal / stepMs : 0},
      {"slowest_stage_ms_per_microbatch", slowest},
      // Wall time not spent inside the models on the busiest rank, per microbatch.
      {"runtime_overhead_ms_per_microbatch",
       (stepMs - *std::max_element(rankCompute.begin(), rankCompute.end())) / s.numMicrobatches},
      {"per_stage", stages},
      {"per_rank", ranks},
      {"peak_rss_mb", run.peakRssMb},
      {"devices", run.devices},
      {"loss_per_step", losses}};
  std::ofstream(path) << doc.dump(1) << "\n";
}

void ppc::rt::writeTrace(const std::string &path, const RunSummary &run) {
  const sched::Schedule &s = *run.schedule;
  json events = json::array();
  double offsetMs = 0;
  for (size_t k = 0; k < run.steps.size(); ++k) {
    const StepRecord &step = run.steps[k];
    for (int r = 0; r < s.numRanks; ++r) {
      for (size_t i = 0; i < s.ranks[r].size(); ++i) {
        const ActionTiming &t = step.timings[r][i];
        events.push_back({{"name", s.ranks[r][i].str()},
                          {"cat", "action"},
                          {"ph", "X"},
                          {"pid", 0},
                          {"tid", r},
                          {"ts", (offsetMs + t.startMs) * 1000},
                          {"dur", (t.endMs - t.startMs) * 1000},
                          {"args", {{"step", k}}}});
      }
      for (const TransferSpan &x : step.transfers[r])
        events.push_back({{"name", x.what},
                          {"cat", "transfer"},
                          {"ph", "X"},
                          {"pid", 1},
                          {"tid", r},
                          {"ts", (offsetMs + x.startMs) * 1000},
                          {"dur", (x.endMs - x.startMs) * 1000}});
    }
    offsetMs += step.stepMs;
  }
  for (int r = 0; r < s.numRanks; ++r)
    for (int pid : {0, 1})
      events.push_back({{"name", "thread_name"},
                        {"ph", "M"},
                        {"pid", pid},
                        {"tid", r},
                        {"args", {{"name", "rank " + std::to_string(r)}}}});
  std::ofstream(path) << json{{"traceEvents", events}}.dump() << "\n";
}
