//===- runtime/Pipeline.h - What `pprun` does -------------------*- C++ -*-===//
//
// Runs a compiled directory: checks the inputs against the manifest,
// microbatches them, builds the schedule, runs every rank (threads of this
// process, or this process as one Gloo rank), and on rank 0 gathers the
// outputs, the loss, gradients, the report and the trace.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_PIPELINE_H
#define PPC_RUNTIME_PIPELINE_H

#include "runtime/DataSource.h"

#include <limits>
#include <string>

namespace ppc::rt {

struct PipelineOptions {
  std::string dir;
  std::string inputs;
  int microbatches = 1;
  std::string schedule = "1f1b"; // a built-in name or a file of actions
  int steps = 1;
  int ranks = 0; // 0: one per stage
  std::string backend = "threads";
  std::string output;
  bool train = false;
  std::string targets;
  std::string loss = "cross_entropy";
  DataOptions data; // --data: a batch per step instead of --inputs/--targets
  std::string optimizer = "sgd";
  double lr = 0.01;
  double weightDecay = std::numeric_limits<double>::quiet_NaN(); // NaN: the optimizer's default
  double beta1 = std::numeric_limits<double>::quiet_NaN(), beta2 = beta1;
  double momentum = std::numeric_limits<double>::quiet_NaN();
  std::string lrSchedule = "constant";
  int64_t warmup = 0;
  double minLr = 0;
  double clipGradNorm = 0; // 0: no clipping
  bool allowNonfinite = false; // else a non-finite loss or gradient norm stops the run
  int logEvery = 1;
  std::string saveGrads;
  std::string checkpoint;
  int checkpointEvery = 0; // 0: only at the end
  std::string resume;      // a checkpoint to load and continue from
  int stopAfter = 0;       // 0: run to --steps
  std::string trace;
  int traceFirst = 0, traceLast = std::numeric_limits<int>::max(); // the steps the trace shows
  std::string report;
  bool printSchedule = false;
  double timeoutSec = 300;
  int threadsPerRank = 1;
  bool staticOrder = false;   // no W pulled forward into a wait
  std::string recompute;      // "all" or "none" for every stage; "": as pipeline.json says
  int64_t seed = -1;          // of the random-number generators (dropout); -1: LibTorch's
  std::string device = "cpu"; // cpu | cuda (each rank's local GPU) | cuda:N
  int localRank = 0;          // LOCAL_RANK: the GPU a process rank takes for "cuda"
  // Gloo rendezvous (set by the launcher or torchrun's environment).
  int rank = 0;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 0;
};

/// Runs every rank of the job in this process (threads backend); returns
/// the exit code.
int runThreads(const PipelineOptions &opts);

/// Runs this process's rank of a Gloo, gloo-p2p or NCCL job.
int runGlooRank(const PipelineOptions &opts);

/// Starts `ranks` local processes of this program over Gloo and supervises
/// them: if one fails, the others are stopped and the failure reported.
int launchProcesses(const PipelineOptions &opts, int argc, char **argv);

} // namespace ppc::rt

#endif
