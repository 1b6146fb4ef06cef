//===- runtime/Pipeline.cpp - What `pprun` does ---------------------------===//
//
// Every rank runs the same rankMain over its Transport: load its stages, run
// the schedule for each step, sum tied gradients, take the global gradient
// norm (and clip), set the step's learning rate, step the optimizer, write
// checkpoints, and send rank 0 what it needs (outputs, loss, timings). With
// --data every rank reads each step's batch itself. Inputs are checked
// against the manifest before any work. Training first runs discarded steps
// until the graph executor has finished profiling (jitWarmUpSteps), so that
// every counted step computes the same way and a resumed run repeats the run
// it continues bit for bit.
//
//===----------------------------------------------------------------------===//
#include "runtime/Pipeline.h"

#include "runtime/Checkpoint.h"
#include "runtime/Executor.h"
#include "runtime/LrSchedule.h"
#include "runtime/Microbatch.h"
#include "runtime/NonFinite.h"
#include "runtime/Report.h"
#include "runtime/Training.h"
#include "support/ErrorText.h"
#include "support/MemoryCounter.h"
#include "support/TorchSave.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace ppc::rt;
using ppc::sched::Action;
using ppc::sched::ActionKind;
namespace sched = ppc::sched;
namespace fs = std::filesystem;

namespace {

/// What every rank knows before it starts.
struct Job {
  Manifest manifest;
  sched::Schedule schedule;
  StepData data;                            // of every step, without --data
  std::shared_ptr<const DataSource> source; // with --data
  int64_t batch = 0;
  int firstStep = 0, endStep = 1; // the steps this invocation runs: [first, end)
  LrSchedule lr;
};

void checkInputs(const Manifest &m, const std::vector<c10::IValue> &inputs,
                 const std::string &origin) {
  if (inputs.size() != m.inputs.size())
    throw std::runtime_error("the pipeline takes " + std::to_string(m.inputs.size()) + " inputs, " +
                             origin + " has " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ModelInput &want = m.inputs[i];
    if (want.type == "Tensor" && !inputs[i].isTensor())
      throw std::runtime_error("input " + std::to_string(i) + " ('" + want.name +
                               "') must be a tensor");
    if (!inputs[i].isTensor())
      continue;
    const at::Tensor &t = inputs[i].toTensor();
    std::string dtype = c10::toString(t.scalar_type());
    static const std::map<std::string, std::string> names = {
        {"Float", "float32"}, {"Double", "float64"}, {"Long", "int64"}, {"Int", "int32"},
        {"Bool", "bool"},     {"Half", "float16"},   {"Byte", "uint8"}};
    if (names.count(dtype))
      dtype = names.at(dtype);
    if (!want.dtype.empty() && want.dtype != dtype)
      throw std::runtime_error("input '" + want.name + "' is " + dtype + ", the model was " +
                               "compiled for " + want.dtype);
    if (want.rank >= 0 && want.rank != t.dim())
      throw std::runtime_error("input '" + want.name + "' has " + std::to_string(t.dim()) +
                               " dims, the model was compiled for " + std::to_string(want.rank));
  }
}

/// Inputs and targets in pinned memory, so copies to the GPU do not block.
void pinData(StepData &data, c10::Device device) {
  if (!device.is_cuda())
    return;
  Placement placement(device);
  for (auto &mb : data.inputs)
    for (c10::IValue &v : mb)
      v = placement.pinned(v);
  for (at::Tensor &t : data.targets)
    t = t.pin_memory();
}

/// One step's microbatches from a whole batch; `origin` names it in errors.
StepData splitBatch(const Job &job, const PipelineOptions &o,
                    const std::vector<c10::IValue> &inputs, const at::Tensor &targets,
                    const std::string &origin, c10::Device device) {
  checkInputs(job.manifest, inputs, origin);
  int64_t batch = batchSize(inputs);
  StepData data;
  data.inputs = splitMicrobatches(inputs, batch, o.microbatches);
  if (o.train) {
    if (!targets.defined() || targets.dim() == 0 || targets.size(0) != batch)
      throw std::runtime_error("the targets of " + origin +
                               " must be one tensor with the batch size " + std::to_string(batch) +
                               " in dim 0");
    for (auto &mb : splitMicrobatches({targets}, batch, o.microbatches))
      data.targets.push_back(mb[0].toTensor());
  }
  for (const auto &mb : data.inputs)
    data.shares.push_back(double(batchSize(mb)) / batch);
  pinData(data, device);
  return data;
}

StepData loadStep(const Job &job, const PipelineOptions &o, int step, c10::Device device) {
  Batch b = job.source->batch(step);
  return splitBatch(job, o, b.inputs, b.targets, b.origin, device);
}

/// Refuses a --checkpoint directory that holds something other than a
/// checkpoint (which the run may replace) unless the run resumes from it.
void checkCheckpointDir(const PipelineOptions &o) {
  std::error_code ec;
  if (o.checkpoint.empty() || !fs::exists(o.checkpoint, ec) || fs::is_empty(o.checkpoint, ec))
    return;
  if (!isCheckpoint(o.checkpoint) &&
      !(o.resume.size() && fs::equivalent(o.resume, o.checkpoint, ec)))
    throw std::runtime_error("checkpoint directory '" + o.checkpoint +
                             "' is not empty; choose another --checkpoint path");
}

/// The step the run goes on from: a checkpoint's, checked against this run.
int resumeStep(const PipelineOptions &o, int ranks) {
  if (o.resume.empty())
    return 0;
  nlohmann::json state = readTrainerState(o.resume);
  if (state.value("ranks", -1) != ranks)
    throw std::runtime_error("checkpoint '" + o.resume + "' was written by " +
                             std::to_string(state.value("ranks", -1)) + " ranks, this run has " +
                             std::to_string(ranks) + " (its optimizer state is per rank)");
  if (state.value("optimizer", "") != o.optimizer)
    throw std::runtime_error(
        "checkpoint '" + o.resume + "' holds " + state.value("optimizer", std::string("?")) +
        " state; resume it with --optimizer " + state.value("optimizer", std::string("?")));
  int step = state.at("step").get<int>();
  if (step >= o.steps)
    throw std::runtime_error("checkpoint '" + o.resume + "' is at step " + std::to_string(step) +
                             ", not before --steps " + std::to_string(o.steps));
  return step;
}

Job prepareJob(const PipelineOptions &o, c10::Device device) {
  Job job;
  if (o.seed >= 0)
    torch::manual_seed(uint64_t(o.seed));
  job.manifest = readManifest(o.resume.empty() ? o.dir : o.resume);
  if (!o.recompute.empty())
    for (StageSpec &s : job.manifest.stages)
      s.recompute = o.recompute == "all";
  int stages = job.manifest.numStages();
  int ranks = o.ranks > 0 ? o.ranks : stages;
  if (stages % ranks != 0)
    throw std::runtime_error(std::to_string(stages) + " stages cannot be placed on " +
                             std::to_string(ranks) + " ranks: S must be a multiple of N");
  checkCheckpointDir(o);
  for (const StageSpec &s : job.manifest.stages)
    if (!fs::exists(job.manifest.dir + "/" + s.file))
      throw std::runtime_error("stage file '" + job.manifest.dir + "/" + s.file +
                               "' is missing; recompile with ppc");
  job.firstStep = resumeStep(o, ranks);
  job.endStep = o.stopAfter > 0 ? std::min(o.stopAfter, o.steps) : o.steps;
  if (job.endStep <= job.firstStep)
    throw std::runtime_error("--stop-after " + std::to_string(o.stopAfter) +
                             " is not after the checkpoint's step " +
                             std::to_string(job.firstStep));
  job.lr = {o.lrSchedule, o.lr, o.warmup, o.minLr, o.steps};
  job.schedule = sched::loadSchedule(o.schedule, stages, ranks, o.microbatches, o.train);
  if (!o.data.path.empty()) {
    job.source = openDataSource(o.data);
    if (job.source->tokensPerBatch() > 0 && job.manifest.inputs.size() != 1)
      throw std::runtime_error("--data token file gives one input (token ids); the pipeline "
                               "takes " +
                               std::to_string(job.manifest.inputs.size()) +
                               ": give --data a directory of batch files instead");
    // The first batch is checked before any rank starts; the others as they come.
    Batch first = job.source->batch(job.firstStep);
    splitBatch(job, o, first.inputs, first.targets, first.origin, c10::kCPU);
    job.batch = batchSize(first.inputs);
    return job;
  }
  std::vector<c10::IValue> inputs = ppc::readSavedValues(o.inputs);
  checkInputs(job.manifest, inputs, "'" + o.inputs + "'");
  at::Tensor targets;
  if (o.train) {
    std::vector<c10::IValue> t = ppc::readSavedValues(o.targets);
    job.batch = batchSize(inputs);
    if (t.size() != 1 || !t[0].isTensor() || t[0].toTensor().dim() == 0 ||
        t[0].toTensor().size(0) != job.batch)
      throw std::runtime_error("--targets must hold one tensor with the batch size " +
                               std::to_string(job.batch) + " in dim 0");
    targets = t[0].toTensor();
  }
  job.batch = batchSize(inputs);
  job.data = splitBatch(job, o, inputs, targets, "'" + o.inputs + "'", device);
  return job;
}

c10::IValue timingsValue(const Executor &ex, double endMs) {
  std::vector<double> flat{endMs};
  for (const ActionTiming &t : ex.timings)
    flat.insert(flat.end(), {t.startMs, t.endMs, t.computeMs});
  c10::List<std::string> names;
  std::vector<double> spans;
  for (const TransferSpan &x : ex.transfers) {
    names.push_back(x.what);
    spans.insert(spans.end(), {x.startMs, x.endMs});
  }
  return c10::ivalue::Tuple::create(
      {torch::tensor(flat, torch::kDouble), torch::tensor(spans, torch::kDouble), names});
}

/// Every rank's step starts here, together: rank 0 lets the others go once
/// all have arrived, so step times share one starting line.
void stepBarrier(Transport &t, int step) {
  std::string key = "B|" + std::to_string(step);
  if (t.rank() != 0) {
    t.send(key, 0, c10::IValue());
    t.recv(key + "|go", 0);
    return;
  }
  for (int r = 1; r < t.worldSize(); ++r)
    t.recv(key, r);
  for (int r = 1; r < t.worldSize(); ++r)
    t.send(key + "|go", r, c10::IValue());
}

void readTimings(const c10::IValue &v, StepRecord &step, int rank) {
  const auto &items = v.toTupleRef().elements();
  at::Tensor flat = items[0].toTensor().cpu();
  // The step ends when the last rank's optimizer step ends, not rank 0's.
  step.stepMs = std::max(step.stepMs, flat[0].item<double>());
  for (int64_t i = 1; i + 2 < flat.numel(); i += 3)
    step.timings[rank].push_back(
        {flat[i].item<double>(), flat[i + 1].item<double>(), flat[i + 2].item<double>()});
  at::Tensor spans = items[1].toTensor().cpu();
  auto names = items[2].toList();
  for (size_t i = 0; i < names.size(); ++i)
    step.transfers[rank].push_back(
        {names.get(i).toStringRef(), spans[2 * i].item<double>(), spans[2 * i + 1].item<double>()});
}

std::string resultKey(int step, const std::string &what) {
  return "R|" + std::to_string(step) + "|" + what;
}

/// Rank 0 collects one step's loss and timings; the others send theirs.
void gatherStep(Transport &t, const Job &job, Executor &ex, int step, double endMs,
                StepRecord &record) {
  int lossRank = rankOfStage(job.manifest.outputs[0].stage, t.worldSize());
  if (t.rank() != 0) {
    t.send(resultKey(step, "timings"), 0, timingsValue(ex, endMs));
    if (ex.computesLoss)
      t.send(resultKey(step, "loss"), 0, ex.lossSum());
    return;
  }
  record.timings.assign(t.worldSize(), {});
  record.transfers.assign(t.worldSize(), {});
  readTimings(timingsValue(ex, endMs), record, 0);
  for (int r = 1; r < t.worldSize(); ++r)
    readTimings(t.recv(resultKey(step, "timings"), r), record, r);
  if (job.schedule.training)
    record.loss =
        lossRank == 0 ? ex.lossSum() : t.recv(resultKey(step, "loss"), lossRank).toDouble();
}

/// Rank 0 learns where every rank ran, for the report.
std::vector<std::string> gatherDevices(Transport &t, const Placement &placement) {
  if (t.rank() != 0) {
    t.send("R|device", 0, placement.describe());
    return {};
  }
  std::vector<std::string> devices{placement.describe()};
  for (int r = 1; r < t.worldSize(); ++r)
    devices.push_back(t.recv("R|device", r).toStringRef());
  return devices;
}

/// Rank 0 learns every rank's peak tensor memory.
std::vector<double> gatherPeaks(Transport &t, double peakMb) {
  if (t.rank() != 0) {
    t.send("R|peak_tensor", 0, peakMb);
    return {};
  }
  std::vector<double> peaks{peakMb};
  for (int r = 1; r < t.worldSize(); ++r)
    peaks.push_back(t.recv("R|peak_tensor", r).toDouble());
  return peaks;
}

/// Rank 0 joins the model outputs of the last step, wherever they were made.
c10::IValue gatherOutputs(Transport &t, const Job &job, Executor &ex, const Placement &placement) {
  int mbs = job.schedule.numMicrobatches;
  if (t.rank() != 0) {
    for (auto &[key, value] : ex.outputs)
      t.send("O|" + key.first + "|" + std::to_string(key.second), 0, value);
    return {};
  }
  std::vector<c10::IValue> outs;
  for (const ModelOutput &mo : job.manifest.outputs) {
    int owner = rankOfStage(mo.stage, t.worldSize());
    std::vector<c10::IValue> parts;
    for (int m = 0; m < mbs; ++m)
      parts.push_back(owner == 0 ? ex.outputs.at({mo.value, m})
                                 : t.recv("O|" + mo.value + "|" + std::to_string(m), owner));
    outs.push_back(placement.toHost(joinMicrobatches(parts)));
  }
  return c10::ivalue::Tuple::create(std::move(outs));
}

void printProgress(const PipelineOptions &o, const Job &job, int step, const StepRecord &record) {
  bool last = step + 1 == job.endStep;
  bool tty = isatty(fileno(stderr));
  bool due = o.logEvery > 0 && (step + 1) % o.logEvery == 0;
  std::ostringstream line;
  line << "pprun: step " << step + 1 << "/" << o.steps << "  " << record.stepMs << " ms";
  if (o.train)
    line << "  loss " << record.loss << "  lr " << record.lr << "  grad_norm " << record.gradNorm;
  int64_t tokens = job.source ? job.source->tokensPerBatch() : 0;
  double perSec = record.stepMs > 0 ? 1000.0 / record.stepMs : 0;
  if (tokens > 0)
    line << "  tokens/s " << int64_t(tokens * perSec);
  else
    line << "  samples/s " << job.batch * perSec;
  if (tty && !due)
    std::cerr << "\r" << line.str() << "   " << (last ? "\n" : "") << std::flush;
  else if (due || last)
    std::cerr << (tty ? "\r" : "") << line.str() << "\n";
}

/// How many discarded steps a training run makes before its first: TorchScript's
/// graph executor runs a stage's first P calls (P = getNumProfiledRuns()) as
/// profiling runs with per-op autograd and the later ones with the optimized
/// plan's autodiff, whose gradients agree to float rounding but not bitwise;
/// the backward graph of each differentiable region is profiled on its own
/// first P calls. Without these steps a step's arithmetic would depend on how
/// many steps the process ran before it, and a resumed run would not repeat
/// the run it continues (AdamW turns the last-bit differences of a gradient
/// that is zero in exact arithmetic, such as attention's key bias, into
/// lr-sized steps). So every stage makes 2·P forward and backward calls on the
/// first step's batch first, and every counted step runs the optimized plans.
/// Ranks that split backward run per-op autograd from the start and need none;
/// all ranks warm up together, or none.
int jitWarmUpSteps(const PipelineOptions &o, const sched::Schedule &schedule) {
  if (!o.train)
    return 0;
  bool fusedBackward = false;
  for (const std::vector<Action> &actions : schedule.ranks)
    for (const Action &a : actions)
      fusedBackward |= a.kind == ActionKind::Backward;
  if (!fusedBackward)
    return 0;
  int calls = 2 * int(torch::jit::getNumProfiledRuns());
  int perStep = std::max(1, schedule.numMicrobatches);
  return (calls + perStep - 1) / perStep;
}

/// trainer.json of a checkpoint after `done` steps: what a resume checks
/// (ranks, optimizer) and the run's other settings, for the record.
nlohmann::json trainerState(const PipelineOptions &o, const Job &job, int ranks, int done) {
  return {{"format", "ppc.trainer/1"},
          {"step", done},
          {"steps", o.steps},
          {"ranks", ranks},
          {"stages", job.manifest.numStages()},
          {"optimizer", o.optimizer},
          {"lr", o.lr},
          {"lr_schedule", o.lrSchedule},
          {"warmup", o.warmup},
          {"min_lr", o.minLr},
          {"clip_grad_norm", o.clipGradNorm},
          {"microbatches", o.microbatches},
          {"schedule", o.schedule},
          {"data", o.data.path}};
}

/// One rank's whole job on `placement` (its thread already bound); returns
/// the exit code.
int rankMain(const PipelineOptions &o, const Job &job, Transport &t, const Placement &placement) {
  at::set_num_threads(o.threadsPerRank);
  // From here on this thread's tensors are the rank's: its parameters too.
  ppc::setMemoryOwner(memoryOwnerOfRank(t.rank()));
  ppc::resetPeak(memoryOwnerOfRank(t.rank()));
  // The graph executor's autodiff turns each differentiable region into one
  // autograd node that computes all of its gradients at once, so I would run
  // the weight GEMMs too; split backward needs the per-op nodes of the
  // unoptimized executor. The setting is per thread and must hold from the
  // first forward, as the executor keeps the plan it first made.
  const std::vector<Action> &actions = job.schedule.ranks[t.rank()];
  bool splitBackward = std::any_of(actions.begin(), actions.end(), [](const Action &a) {
    return a.kind == ActionKind::InputGrad || a.kind == ActionKind::WeightGrad;
  });
  torch::jit::GraphOptimizerEnabledGuard perOpAutograd(!splitBackward);
  LossSpec loss = makeLoss(o.loss);
  Executor ex(job.manifest, t, o.train, loss, placement);
  ex.fillWaits = !o.staticOrder;
  ex.watchNonFinite = !o.allowNonfinite;
  OptimizerOptions optim{o.optimizer, o.lr, o.weightDecay, o.beta1, o.beta2, o.momentum};
  Trainer trainer(ex, job.manifest, t, optim);
  if (o.train)
    ex.onGradientsFinal = [&trainer](int stage, int step) {
      trainer.tiedGradientsFinal(stage, step);
    };
  if (!o.resume.empty() && o.train)
    trainer.loadOptimizer(optimizerFile(o.resume, t.rank()), placement.device);
  auto checkpoint = [&](int done) {
    writeCheckpoint(o.checkpoint, job.manifest.dir, trainer, t,
                    trainerState(o, job, t.worldSize(), done));
  };
  RunSummary summary;
  summary.schedule = &job.schedule;
  summary.batch = job.batch;
  summary.training = o.train;
  int warmUps = jitWarmUpSteps(o, job.schedule); // untimed, discarded
  if (warmUps > 0) {
    StepData loaded = job.source ? loadStep(job, o, job.firstStep, placement.device) : StepData();
    const StepData &data = job.source ? loaded : job.data;
    for (int i = 1; i <= warmUps; ++i) { // step numbers -1, -2, ...: keys of their own
      stepBarrier(t, -i);
      ex.run(job.schedule.ranks[t.rank()], data, -i, std::chrono::steady_clock::now());
    }
  }
  for (int step = job.firstStep; step < job.endStep; ++step) {
    StepData loaded = job.source ? loadStep(job, o, step, placement.device) : StepData();
    const StepData &data = job.source ? loaded : job.data;
    trainer.zeroGrad();
    stepBarrier(t, step);
    auto start = std::chrono::steady_clock::now();
    ex.run(job.schedule.ranks[t.rank()], data, step, start);
    StepRecord record;
    if (o.train) {
      trainer.sumTiedGradients(step);
      if (step == job.firstStep && !o.saveGrads.empty())
        trainer.saveGradients(o.saveGrads);
      record.gradNorm = trainer.gradNorm(step, o.allowNonfinite ? 0.0 : lossFinitenessTerm(ex));
      if (!std::isfinite(record.gradNorm) && !o.allowNonfinite) {
        std::string reason = nonFiniteReason(ex, t, step, record.gradNorm);
        if (t.rank() != 0)
          return 0; // rank 0 names the cause and fails the job
        throw std::runtime_error(reason);
      }
      if (o.clipGradNorm > 0)
        trainer.clip(record.gradNorm, o.clipGradNorm);
      record.lr = learningRate(job.lr, step);
      trainer.setLearningRate(record.lr);
      trainer.step();
    }
    placement.synchronize(); // the step is over when the device's work is
    double endMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    record.index = step;
    gatherStep(t, job, ex, step, endMs, record);
    if (t.rank() == 0) {
      printProgress(o, job, step, record);
      bool traced = !o.trace.empty() && record.index >= o.traceFirst && record.index <= o.traceLast;
      summary.addStep(std::move(record), traced);
    }
    bool last = step + 1 == job.endStep;
    if (o.checkpointEvery > 0 && (step + 1) % o.checkpointEvery == 0 && !last)
      checkpoint(step + 1);
  }
  summary.peakTensorMb = gatherPeaks(t, peakTensorMb(t.rank(), placement.device));
  summary.devices = gatherDevices(t, placement);
  c10::IValue outputs = gatherOutputs(t, job, ex, placement);
  if (!o.checkpoint.empty())
    checkpoint(job.endStep);
  t.flush();
  if (t.rank() != 0)
    return 0;
  summary.peakRssMb = peakRssMb();
  if (!o.output.empty())
    ppc::writeTorchSave(o.output, outputs);
  if (!o.report.empty())
    writeReport(o.report, summary);
  if (!o.trace.empty())
    writeTrace(o.trace, summary);
  return 0;
}

} // namespace

int ppc::rt::runThreads(const PipelineOptions &o) {
  // Thread ranks share one device: "cuda" is cuda:0, each rank on its own stream.
  c10::Device device = parseDevice(o.device, 0);
  Job job = prepareJob(o, device);
  if (o.printSchedule)
    std::cout << sched::printGrid(job.schedule);
  resetDevicePeak(device);
  int ranks = job.schedule.numRanks;
  auto hub = makeThreadHub(ranks, std::chrono::milliseconds(int64_t(o.timeoutSec * 1000)));
  // A rank that fails on its own is the cause; ranks it stopped only waited.
  std::vector<std::string> causes(ranks), waits(ranks);
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      Placement placement(device);
      auto transport = placeTransport(makeThreadTransport(hub, r), placement, /*byReference=*/true);
      try {
        placement.bindThread();
        rankMain(o, job, *transport, placement);
      } catch (const TransportError &e) {
        waits[r] = ppc::errorSummary(e);
        transport->abort("rank " + std::to_string(r) + ": " + waits[r]);
      } catch (const std::exception &e) {
        causes[r] = "rank " + std::to_string(r) + ": " + ppc::errorSummary(e);
        transport->abort(causes[r]);
      }
    });
  for (std::thread &th : threads)
    th.join();
  for (const auto *messages : {&causes, &waits})
    for (const std::string &e : *messages)
      if (!e.empty()) {
        std::cerr << "pprun: error: " << e << "\n";
        return 1;
      }
  return 0;
}

/// This process's transport: Gloo (values pickled), or tensors by p2p over
/// NCCL or Gloo with their structure on a side channel.
static std::unique_ptr<Transport> makeProcessTransport(const PipelineOptions &o, int ranks,
                                                       const Placement &placement) {
  auto timeout = std::chrono::milliseconds(int64_t(o.timeoutSec * 1000));
  if (o.backend == "nccl" || o.backend == "gloo-p2p")
    return makeP2PTransport(o.rank, ranks, o.masterAddr, o.masterPort, timeout, placement.device,
                            /*nccl=*/o.backend == "nccl");
  return placeTransport(makeGlooTransport(o.rank, ranks, o.masterAddr, o.masterPort, timeout),
                        placement, /*byReference=*/false);
}

int ppc::rt::runGlooRank(const PipelineOptions &o) {
  c10::Device device = parseDevice(o.device, o.localRank);
  Job job = prepareJob(o, device);
  int ranks = job.schedule.numRanks;
  if (o.printSchedule && o.rank == 0)
    std::cout << sched::printGrid(job.schedule);
  Placement placement(device);
  placement.bindThread(); // before the transport, which orders its transfers on this stream
  // The transport's helper threads allocate what this rank receives.
  ppc::setDefaultMemoryOwner(memoryOwnerOfRank(o.rank));
  resetDevicePeak(device);
  auto transport = makeProcessTransport(o, ranks, placement);
  try {
    return rankMain(o, job, *transport, placement);
  } catch (const std::exception &e) {
    std::cerr << "pprun: error: rank " << o.rank << ": " << ppc::errorSummary(e) << "\n";
    return 1;
  }
}
