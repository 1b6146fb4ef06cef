//===- runtime/Report.h - Report, trace and result files --------*- C++ -*-===//
//
// What rank 0 writes after a run besides the outputs: the report JSON (step
// time, throughput, busy and idle per rank, measured bubble, the lower bound
// on the step time from the measured stage times and its ratio to the
// measured step (efficiency <= 1), peak memory) and a Chrome trace (one track
// per rank, a span per action and per wait for another rank). Peak tensor
// memory is measured per rank: on the CPU by support/MemoryCounter (rank r's
// thread allocates as owner r + 1, so owner 0 keeps what no rank made: the
// job's inputs and targets), on a GPU by the caching allocator's peak.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_REPORT_H
#define PPC_RUNTIME_REPORT_H

#include "runtime/Executor.h"

#include <map>
#include <string>
#include <vector>

namespace ppc::rt {

/// A step's figures, which the report lists for every step.
struct StepFigures {
  int index = 0; // counting steps done before a resume
  double stepMs = 0;
  double loss = 0;
  double lr = 0;       // training: the rate the optimizer stepped with
  double gradNorm = 0; // training: the global gradient norm before clipping
};

/// Everything rank 0 knows about one step.
struct StepRecord : StepFigures {
  std::vector<std::vector<ActionTiming>> timings;   // per rank, aligned with the schedule
  std::vector<std::vector<TransferSpan>> transfers; // per rank
};

/// One stage's measured work per microbatch, by action kind.
struct StageWork {
  double forwardMs = 0, backwardMs = 0, inputGradMs = 0, weightGradMs = 0;
};

/// Sums over steps of what the report averages, so that a run need not keep
/// every step's action timings.
struct StepTotals {
  int steps = 0;
  double stepMs = 0, scheduleMs = 0;     // schedule: step start to the last action's end
  std::vector<double> busy, rankCompute; // per rank
  std::map<int, double> stageMs;         // per stage, summed over microbatches
  std::map<int, double> stageCompute;    // the part inside the model
  std::map<int, StageWork> stageWork;    // per microbatch, by action kind

  void add(const sched::Schedule &s, const StepRecord &step);
};

struct RunSummary {
  const sched::Schedule *schedule = nullptr;
  int64_t batch = 0;
  bool training = false;
  /// Every step's figures (40 bytes a step: a 100k-step run keeps 4 MB).
  std::vector<StepFigures> steps;
  /// By position in `steps`, the steps `keepTimings` kept whole (those a
  /// trace shows), with their action timings and transfers.
  std::map<size_t, StepRecord> traced;
  /// The first step's (warm-up) and the later steps' sums: the report
  /// averages the later ones when there are any.
  StepTotals firstStep, laterSteps;
  double peakRssMb = 0;
  std::vector<double> peakTensorMb; // per rank
  std::vector<std::string> devices; // per rank: "cpu" or "cuda:0 (NVIDIA H100 ...)"

  void addStep(StepRecord record, bool keepTimings);
};

/// The least step time any schedule can reach with these stage times (no
/// communication cost): sum_s F_s + (M-1) max_s F_s forward only with one
/// stage per rank; per rank, the work before its first stage, all of its own
/// work and the gradient's way back when training.
double stepBoundMs(const sched::Schedule &s, const std::map<int, StageWork> &work);

void writeReport(const std::string &path, const RunSummary &run);
void writeTrace(const std::string &path, const RunSummary &run);

/// This process's peak resident memory (VmHWM) in MB.
double peakRssMb();

/// The memory counter's owner for rank `rank`'s tensors.
inline int memoryOwnerOfRank(int rank) { return rank + 1; }

/// Starts a new peak of the tensor memory on `device` (a GPU; the CPU's
/// counts are per owner, reset with ppc::resetPeak).
void resetDevicePeak(c10::Device device);

/// The peak tensor memory of rank `rank` on `device` in MB: the memory
/// counter's peak for the rank on the CPU, the caching allocator's peak of
/// allocated bytes on a GPU (shared by rank threads on one GPU).
double peakTensorMb(int rank, c10::Device device);

} // namespace ppc::rt

#endif
