//===- runtime/Report.h - Report, trace and result files --------*- C++ -*-===//
//
// What rank 0 writes after a run besides the outputs: the report JSON (step
// time, throughput, busy and idle per rank, measured bubble, the ideal (M+S-1)*t_slowest bound,
// peak memory) and a Chrome trace (one track per rank, a span per action and per wait for another
// rank).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_REPORT_H
#define PPC_RUNTIME_REPORT_H

#include "runtime/Executor.h"

#include <string>
#include <vector>

namespace ppc::rt {

/// Everything rank 0 knows about one step.
struct StepRecord {
  double stepMs = 0;
  double loss = 0;
  std::vector<std::vector<ActionTiming>> timings;   // per rank, aligned with the schedule
  std::vector<std::vector<TransferSpan>> transfers; // per rank
};

struct RunSummary {
  const sched::Schedule *schedule = nullptr;
  int64_t batch = 0;
  bool training = false;
  std::vector<StepRecord> steps;
  double peakRssMb = 0;
  std::vector<std::string> devices; // per rank: "cpu" or "cuda:0 (NVIDIA H100 ...)"
};

void writeReport(const std::string &path, const RunSummary &run);
void writeTrace(const std::string &path, const RunSummary &run);

/// This process's peak resident memory (VmHWM) in MB.
double peakRssMb();

} // namespace ppc::rt

#endif
