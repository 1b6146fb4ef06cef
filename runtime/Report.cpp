//===- runtime/Report.cpp - Report, trace and result files ----------------===//
//
// The bound uses each stage's measured work per microbatch (F, and B or I
// and W when training; waits for other ranks excluded) from the same run, so
// it needs no separate calibration. Steps after the first are averaged when
// there are several, the first being warm-up.
//
//===----------------------------------------------------------------------===//
#include "runtime/Report.h"

#include "support/MemoryCounter.h"

#include <c10/core/CachingDeviceAllocator.h>
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

void ppc::rt::resetDevicePeak(c10::Device device) {
  if (device.is_cuda())
    c10::getDeviceAllocator(device.type())->resetPeakStats(device.index());
}

double ppc::rt::peakTensorMb(int rank, c10::Device device) {
  constexpr double kMb = 1024.0 * 1024.0;
  if (!device.is_cuda())
    return ppc::peakBytes(memoryOwnerOfRank(rank)) / kMb;
  auto stats = c10::getDeviceAllocator(device.type())->getDeviceStats(device.index());
  return stats.allocated_bytes[size_t(c10::CachingAllocator::StatType::AGGREGATE)].peak / kMb;
}

void ppc::rt::StepTotals::add(const sched::Schedule &s, const StepRecord &step) {
  ++steps;
  stepMs += step.stepMs;
  busy.resize(s.numRanks, 0);
  rankCompute.resize(s.numRanks, 0);
  double lastEnd = 0;
  for (int r = 0; r < s.numRanks; ++r)
    if (!step.timings[r].empty())
      lastEnd = std::max(lastEnd, step.timings[r].back().endMs);
  scheduleMs += lastEnd;
  for (int r = 0; r < s.numRanks; ++r)
    for (size_t i = 0; i < s.ranks[r].size(); ++i) {
      const ActionTiming &t = step.timings[r][i];
      double waited = 0;
      for (const TransferSpan &x : step.transfers[r])
        if (x.startMs >= t.startMs && x.endMs <= t.endMs)
          waited += x.endMs - x.startMs;
      double work = t.endMs - t.startMs - waited;
      const sched::Action &a = s.ranks[r][i];
      busy[r] += work;
      stageMs[a.stage] += work;
      double perMb = work / s.numMicrobatches;
      StageWork &sw = stageWork[a.stage];
      (a.kind == sched::ActionKind::Forward     ? sw.forwardMs
       : a.kind == sched::ActionKind::Backward  ? sw.backwardMs
       : a.kind == sched::ActionKind::InputGrad ? sw.inputGradMs
                                                : sw.weightGradMs) += perMb;
      stageCompute[a.stage] += t.computeMs;
      rankCompute[r] += t.computeMs;
    }
}

void ppc::rt::RunSummary::addStep(StepRecord record, bool keepTimings) {
  (steps.empty() ? firstStep : laterSteps).add(*schedule, record);
  steps.push_back(record); // its figures only
  if (keepTimings)
    traced.emplace(steps.size() - 1, std::move(record));
}

/// The sums divided by their step count.
static StepTotals averaged(StepTotals t) {
  double n = std::max(t.steps, 1);
  auto divide = [n](double &x) { x /= n; };
  divide(t.stepMs);
  divide(t.scheduleMs);
  std::for_each(t.busy.begin(), t.busy.end(), divide);
  std::for_each(t.rankCompute.begin(), t.rankCompute.end(), divide);
  for (auto &[stage, ms] : t.stageMs)
    divide(ms);
  for (auto &[stage, ms] : t.stageCompute)
    divide(ms);
  for (auto &[stage, w] : t.stageWork)
    for (double *x : {&w.forwardMs, &w.backwardMs, &w.inputGradMs, &w.weightGradMs})
      divide(*x);
  return t;
}

// Rank r's stages Q (lowest s0, highest s1) cannot start before microbatch 0
// has passed the stages before s0, must do all M microbatches of their own
// work, and, forward only, must let the last microbatch pass the stages after
// s1; in training, the last gradient still has to pass back through the
// stages before s0 (its I chain, when W is split off and may run last).
// With one stage per rank and no training: sum_s F_s + (M-1) max_s F_s.
double ppc::rt::stepBoundMs(const sched::Schedule &s, const std::map<int, StageWork> &work) {
  auto at = [&](int stage) {
    auto it = work.find(stage);
    return it == work.end() ? StageWork() : it->second;
  };
  double m = s.numMicrobatches, bound = 0;
  for (int r = 0; r < s.numRanks; ++r) {
    int s0 = r, s1 = r;
    double own = 0, ownFI = 0;
    for (int k = r; k < s.numStages; k += s.numRanks) {
      StageWork w = at(k);
      own += w.forwardMs + w.backwardMs + w.inputGradMs + w.weightGradMs;
      ownFI += w.forwardMs + w.backwardMs + w.inputGradMs;
      s1 = k;
    }
    double before = 0, after = 0, gradBefore = 0; // B, or I when split
    for (int k = 0; k < s0; ++k) {
      before += at(k).forwardMs;
      gradBefore += at(k).backwardMs + at(k).inputGradMs;
    }
    for (int k = s1 + 1; k < s.numStages; ++k)
      after += at(k).forwardMs;
    double lb = before + m * own + (s.training ? 0 : after);
    if (s.training) {
      bool split = std::any_of(s.ranks[r].begin(), s.ranks[r].end(), [](const sched::Action &a) {
        return a.kind == sched::ActionKind::WeightGrad;
      });
      lb = split ? std::max(lb, before + m * ownFI + gradBefore) : lb + gradBefore;
    }
    bound = std::max(bound, lb);
  }
  return bound;
}

void ppc::rt::writeReport(const std::string &path, const RunSummary &run) {
  const sched::Schedule &s = *run.schedule;
  // The steps that count: all but the first when there are several.
  StepTotals mean = averaged(run.laterSteps.steps > 0 ? run.laterSteps : run.firstStep);
  mean.busy.resize(s.numRanks, 0);
  mean.rankCompute.resize(s.numRanks, 0);
  double stepMs = mean.stepMs, scheduleMs = mean.scheduleMs;
  const std::vector<double> &busy = mean.busy;
  std::map<int, double> &stageCompute = mean.stageCompute;
  std::map<int, StageWork> &stageWork = mean.stageWork;
  const std::vector<double> &rankCompute = mean.rankCompute;
  double slowest = 0;
  json stages = json::array();
  for (auto &[stage, ms] : mean.stageMs) {
    double perMb = ms / s.numMicrobatches;
    slowest = std::max(slowest, perMb);
    const StageWork &w = stageWork[stage];
    stages.push_back({{"stage", stage},
                      {"ms_per_microbatch", perMb},
                      {"compute_ms_per_microbatch", stageCompute[stage] / s.numMicrobatches},
                      {"forward_ms", w.forwardMs},
                      {"backward_ms", w.backwardMs},
                      {"input_grad_ms", w.inputGradMs},
                      {"weight_grad_ms", w.weightGradMs}});
  }
  json ranks = json::array();
  double busyTotal = 0;
  for (int r = 0; r < s.numRanks; ++r) {
    busyTotal += busy[r];
    json rank = {{"rank", r}, {"busy_ms", busy[r]}, {"idle_ms", stepMs - busy[r]}};
    if (r < int(run.peakTensorMb.size()))
      rank["peak_tensor_mb"] = run.peakTensorMb[r];
    ranks.push_back(rank);
  }
  double bound = stepBoundMs(s, stageWork);
  json losses = json::array(), perStep = json::array();
  for (const StepFigures &step : run.steps) {
    losses.push_back(step.loss);
    json one = {{"step", step.index}, {"step_ms", step.stepMs}};
    if (run.training)
      one.update({{"loss", step.loss}, {"lr", step.lr}, {"grad_norm", step.gradNorm}});
    perStep.push_back(one);
  }
  json doc = {
      {"schedule", s.name},
      {"stages", s.numStages},
      {"ranks", s.numRanks},
      {"microbatches", s.numMicrobatches},
      {"batch", run.batch},
      {"training", run.training},
      {"num_steps", run.steps.size()},
      // One entry per step run: its index (from 0, counting steps before a
      // resume), time, and when training its loss, learning rate and
      // gradient norm before clipping.
      {"steps", perStep},
      {"step_ms", stepMs},
      {"samples_per_s", stepMs > 0 ? run.batch * 1000.0 / stepMs : 0},
      // The pipeline bubble: idle share of the ranks while the schedule runs.
      // What follows it (tied-gradient sums, the optimizer, the step's end
      // barrier) is work outside the schedule, reported on its own.
      {"schedule_ms", scheduleMs},
      {"after_schedule_ms", stepMs - scheduleMs},
      {"bubble", scheduleMs > 0 ? 1 - busyTotal / (s.numRanks * scheduleMs) : 0},
      // No schedule of these stage times can take less: a lower bound, not a target.
      {"bound_ms", bound},
      {"bound", s.training ? "max_r [sum_{s<s0(r)} F_s + M sum_{s on r} (F_s+B_s) + sum_{s<s0(r)} "
                             "B_s] (I chain only when W is split)"
                           : "max_r [sum_{s<s0(r)} F_s + M sum_{s on r} F_s + sum_{s>s1(r)} F_s] "
                             "= sum_s F_s + (M-1) max_s F_s with one stage per rank"},
      {"efficiency", stepMs > 0 ? bound / stepMs : 0},
      {"slowest_stage_ms_per_microbatch", slowest},
      // Wall time not spent inside the models on the busiest rank, per microbatch.
      {"runtime_overhead_ms_per_microbatch",
       (stepMs - *std::max_element(rankCompute.begin(), rankCompute.end())) / s.numMicrobatches},
      {"per_stage", stages},
      {"per_rank", ranks},
      {"peak_rss_mb", run.peakRssMb},
      // Tensor storage alive at once, per rank, over the whole run (not RSS).
      {"peak_tensor_mb", run.peakTensorMb},
      {"devices", run.devices},
      {"loss_per_step", losses}};
  std::ofstream(path) << doc.dump(1) << "\n";
}

void ppc::rt::writeTrace(const std::string &path, const RunSummary &run) {
  const sched::Schedule &s = *run.schedule;
  json events = json::array();
  double offsetMs = 0;
  for (size_t k = 0; k < run.steps.size(); ++k) {
    auto kept = run.traced.find(k);
    if (kept == run.traced.end()) {
      offsetMs += run.steps[k].stepMs;
      continue;
    }
    const StepRecord &step = kept->second;
    for (int r = 0; r < int(step.timings.size()); ++r) {
      for (size_t i = 0; i < s.ranks[r].size(); ++i) {
        const ActionTiming &t = step.timings[r][i];
        events.push_back({{"name", s.ranks[r][i].str()},
                          {"cat", "action"},
                          {"ph", "X"},
                          {"pid", 0},
                          {"tid", r},
                          {"ts", (offsetMs + t.startMs) * 1000},
                          {"dur", (t.endMs - t.startMs) * 1000},
                          {"args", {{"step", step.index}}}});
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
