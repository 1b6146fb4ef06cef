//===- tools/pprun.cpp - The pipeline runtime driver ----------------------===//
//
// Parses the command line (design §4), picks how ranks run (threads of this
// process, local Gloo processes with --nproc, or one rank under torchrun),
// and reports every failure as one line and a non-zero exit.
//
//===----------------------------------------------------------------------===//
#include "runtime/Device.h"
#include "runtime/LrSchedule.h"
#include "runtime/Pipeline.h"
#include "support/ErrorText.h"
#include "support/HostMemory.h"
#include "support/MemoryCounter.h"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

using namespace ppc::rt;

static const char *kUsage =
    R"(usage: pprun DIR --inputs IO.pt [--microbatches M] [--schedule NAME|FILE] [--steps K]
             [--nproc N | under torchrun] [--backend threads|gloo|gloo-p2p|nccl]
             [--device cpu|cuda|cuda:N] [--output OUT.pt]
             [--train --targets T.pt --loss cross_entropy|mse|LOSS.pt --optimizer sgd|adam|adamw
              --lr X --save-grads G.pt --checkpoint OUTDIR] [--trace TRACE.json [--trace-steps A:B]]
             [--report R.json] [--print-schedule] [--timeout SEC] [--threads-per-rank T]
             [--static-order] [--recompute all|none] [--seed N]
       pprun DIR --train --data FILE|DIR [--data-dtype uint16|int32 --seq T --batch B]
             [--shuffle SEED] [--weight-decay X] [--betas B1,B2] [--momentum X]
             [--lr-schedule constant|cosine|linear --warmup W --min-lr X]
             [--clip-grad-norm X] [--allow-nonfinite] [--log-every K]
             [--checkpoint DIR --checkpoint-every K] [--resume CKPT] [--stop-after S]
schedules: gpipe, 1f1b, interleaved-1f1b, looped-bfs, zero-bubble, or a file of actions
--static-order: run each rank's actions exactly in order (by default a rank waiting for
  another rank's value runs its next weight-grad W first, when that W's I has run)
--recompute all|none: every stage (or none) re-runs its forward before its backward instead
  of keeping activations, overriding each stage's `recompute` in pipeline.json (training)
--seed N: seeds the random-number generators (dropout), so runs repeat
--device cuda: threads share one GPU (a CUDA stream each); process ranks take GPU LOCAL_RANK
--backend nccl (with --device cuda): tensors by NCCL p2p; gloo-p2p: the same over Gloo (CPU)
--data FILE: a flat binary file of N token ids (--data-dtype uint16, the default, or int32;
  native byte order, as nanoGPT writes them). Step k (from 0, resumed steps counted) reads
  the B*T+1 tokens from offset (k*B*T) mod (N-B*T); inputs are the first B*T as (B, T) int64,
  targets the last B*T (the same shifted by one). --shuffle SEED: the offset is instead
  mt19937_64(SEED+k)() mod (N-B*T). Needs N > B*T.
--data DIR: torch.save files {"inputs": (...), "targets": tensor}, in sorted name order;
  step k takes file k mod n. With --data, --inputs and --targets are not needed.
--optimizer: torch's defaults: sgd momentum 0, weight decay 0; adam betas 0.9,0.999, eps 1e-8,
  weight decay 0; adamw the same with weight decay 0.01
--lr-schedule: step k of K (--steps): lr*(k+1)/W while k < W, then with p = (k-W)/max(1,K-W)
  cosine: min_lr + (lr-min_lr)(1+cos(pi p))/2, linear: lr - (lr-min_lr) p, constant: lr
--clip-grad-norm X: scales every gradient by min(1, X/(norm+1e-6)), norm the L2 norm over all
  parameters of all stages (a tied group once), as torch.nn.utils.clip_grad_norm_ does
--allow-nonfinite: train on through a NaN or infinite loss or gradient norm; by default the run
  stops at that step, before the optimizer steps, naming the stage the first such value came from
--log-every K: step, loss, lr, grad norm and tokens/s (or samples/s) every K steps (default 1)
--checkpoint DIR: stages, pipeline.json, optimizer state and trainer.json (steps done), written
  atomically at the end and every --checkpoint-every K steps; DIR may be an earlier checkpoint
--resume CKPT: load stages and optimizer state from a checkpoint and go on at its step (the
  same --nproc and --optimizer; DIR may be left out); --steps K is the whole run's length
--stop-after S: end this run after step S (of --steps) with a checkpoint
--trace-steps A:B: the steps (from 0, as the report counts them) whose actions --trace shows;
  by default all (a run keeps the action timings only of the steps it traces)
)";

namespace {

struct Parsed {
  PipelineOptions opts;
  int nproc = 0;
  bool backendGiven = false;
};

double number(const std::string &flag, const std::string &v) {
  char *end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end)
    throw std::runtime_error("option " + flag + " needs a number, got '" + v + "'");
  return d;
}

/// --trace-steps A:B
void traceSteps(const std::string &flag, const std::string &v, PipelineOptions &o) {
  size_t colon = v.find(':');
  if (colon == std::string::npos)
    throw std::runtime_error("option " + flag + " needs A:B (first and last step), got '" + v +
                             "'");
  o.traceFirst = int(number(flag, v.substr(0, colon)));
  o.traceLast = int(number(flag, v.substr(colon + 1)));
  if (o.traceFirst < 0 || o.traceLast < o.traceFirst)
    throw std::runtime_error("option " + flag + " needs 0 <= A <= B, got '" + v + "'");
}

/// --betas B1,B2
void betas(const std::string &flag, const std::string &v, PipelineOptions &o) {
  size_t comma = v.find(',');
  if (comma == std::string::npos)
    throw std::runtime_error("option " + flag + " needs two numbers B1,B2, got '" + v + "'");
  o.beta1 = number(flag, v.substr(0, comma));
  o.beta2 = number(flag, v.substr(comma + 1));
}

/// The training flags' values, checked before any rank starts.
void checkTraining(const PipelineOptions &o) {
  if (o.optimizer != "sgd" && o.optimizer != "adam" && o.optimizer != "adamw")
    throw std::runtime_error("--optimizer must be sgd, adam or adamw, not '" + o.optimizer + "'");
  checkLrSchedule({o.lrSchedule, o.lr, o.warmup, o.minLr, o.steps});
  if (o.clipGradNorm < 0 || o.logEvery < 0 || o.checkpointEvery < 0 || o.stopAfter < 0)
    throw std::runtime_error(
        "--clip-grad-norm, --log-every, --checkpoint-every and --stop-after must not be negative");
  if ((o.checkpointEvery > 0 || o.stopAfter > 0) && o.checkpoint.empty())
    throw std::runtime_error("--checkpoint-every and --stop-after need --checkpoint DIR");
  if (!o.data.path.empty() && o.data.dtype != "uint16" && o.data.dtype != "int32")
    throw std::runtime_error("--data-dtype must be uint16 or int32, not '" + o.data.dtype + "'");
}

Parsed parse(int argc, char **argv) {
  Parsed p;
  PipelineOptions &o = p.opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc)
        throw std::runtime_error("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      std::exit(0);
    } else if (a == "--inputs")
      o.inputs = value();
    else if (a == "--microbatches")
      o.microbatches = int(number(a, value()));
    else if (a == "--schedule")
      o.schedule = value();
    else if (a == "--steps")
      o.steps = int(number(a, value()));
    else if (a == "--nproc")
      p.nproc = int(number(a, value()));
    else if (a == "--backend")
      o.backend = value(), p.backendGiven = true;
    else if (a == "--output")
      o.output = value();
    else if (a == "--train")
      o.train = true;
    else if (a == "--targets")
      o.targets = value();
    else if (a == "--loss")
      o.loss = value();
    else if (a == "--optimizer")
      o.optimizer = value();
    else if (a == "--lr")
      o.lr = number(a, value());
    else if (a == "--data")
      o.data.path = value();
    else if (a == "--data-dtype")
      o.data.dtype = value();
    else if (a == "--seq")
      o.data.seq = int64_t(number(a, value()));
    else if (a == "--batch")
      o.data.batch = int64_t(number(a, value()));
    else if (a == "--shuffle")
      o.data.shuffleSeed = int64_t(number(a, value()));
    else if (a == "--weight-decay")
      o.weightDecay = number(a, value());
    else if (a == "--betas")
      betas(a, value(), o);
    else if (a == "--momentum")
      o.momentum = number(a, value());
    else if (a == "--lr-schedule")
      o.lrSchedule = value();
    else if (a == "--warmup")
      o.warmup = int64_t(number(a, value()));
    else if (a == "--min-lr")
      o.minLr = number(a, value());
    else if (a == "--clip-grad-norm")
      o.clipGradNorm = number(a, value());
    else if (a == "--allow-nonfinite")
      o.allowNonfinite = true;
    else if (a == "--log-every")
      o.logEvery = int(number(a, value()));
    else if (a == "--checkpoint-every")
      o.checkpointEvery = int(number(a, value()));
    else if (a == "--resume")
      o.resume = value();
    else if (a == "--stop-after")
      o.stopAfter = int(number(a, value()));
    else if (a == "--save-grads")
      o.saveGrads = value();
    else if (a == "--checkpoint")
      o.checkpoint = value();
    else if (a == "--trace")
      o.trace = value();
    else if (a == "--trace-steps")
      traceSteps(a, value(), o);
    else if (a == "--report")
      o.report = value();
    else if (a == "--print-schedule")
      o.printSchedule = true;
    else if (a == "--timeout")
      o.timeoutSec = number(a, value());
    else if (a == "--device")
      o.device = value();
    else if (a == "--threads-per-rank")
      o.threadsPerRank = int(number(a, value()));
    else if (a == "--static-order")
      o.staticOrder = true;
    else if (a == "--recompute")
      o.recompute = value();
    else if (a == "--seed")
      o.seed = int64_t(number(a, value()));
    else if (a.rfind("-", 0) == 0)
      throw std::runtime_error("unknown option '" + a + "' (see pprun --help)");
    else if (o.dir.empty())
      o.dir = a;
    else
      throw std::runtime_error("more than one stages directory given");
  }
  if ((o.dir.empty() && o.resume.empty()) || (o.inputs.empty() && o.data.path.empty()))
    throw std::runtime_error(
        "usage: pprun DIR --inputs IO.pt|--data FILE|DIR [options] (see pprun --help)");
  if (o.train && o.targets.empty() && o.data.path.empty())
    throw std::runtime_error("--train needs --targets T.pt (or --data)");
  checkTraining(o);
  if (o.steps < 1 || o.microbatches < 1)
    throw std::runtime_error("--steps and --microbatches must be at least 1");
  if (!o.recompute.empty() && o.recompute != "all" && o.recompute != "none")
    throw std::runtime_error("--recompute must be all or none, not '" + o.recompute + "'");
  if (o.backend != "threads" && o.backend != "gloo" && o.backend != "gloo-p2p" &&
      o.backend != "nccl")
    throw std::runtime_error("--backend must be threads, gloo, gloo-p2p or nccl");
  if (o.backend == "nccl" && o.device == "cpu")
    throw std::runtime_error("--backend nccl runs on GPUs: add --device cuda (or use gloo)");
  if (o.backend == "gloo-p2p" && o.device != "cpu")
    throw std::runtime_error("--backend gloo-p2p runs on the CPU: use nccl with --device cuda");
  parseDevice(o.device, 0); // no GPU at all: say so once, before starting any rank
  return p;
}

int run(int argc, char **argv) {
  Parsed p = parse(argc, argv);
  PipelineOptions &o = p.opts;
  const char *rank = std::getenv("RANK");
  const char *world = std::getenv("WORLD_SIZE");
  if (rank && world) { // a rank started by --nproc or by torchrun
    o.rank = std::atoi(rank);
    o.ranks = std::atoi(world);
    o.masterAddr = std::getenv("MASTER_ADDR") ? std::getenv("MASTER_ADDR") : "127.0.0.1";
    o.masterPort = std::getenv("MASTER_PORT") ? std::atoi(std::getenv("MASTER_PORT")) : 29500;
    o.localRank = std::getenv("LOCAL_RANK") ? std::atoi(std::getenv("LOCAL_RANK")) : o.rank;
    return runGlooRank(o);
  }
  o.ranks = p.nproc;
  if (p.nproc == 0 && o.backend != "threads")
    throw std::runtime_error(
        "--backend " + o.backend +
        " runs ranks as processes: add --nproc N (or start pprun under torchrun)");
  if (p.nproc > 0 && !(p.backendGiven && o.backend == "threads"))
    return launchProcesses(o, argc, argv);
  return runThreads(o);
}

} // namespace

int main(int argc, char **argv) {
  ppc::retainFreedHostMemory();
  try {
    ppc::installMemoryCounter(); // before the first tensor, for the report's peak_tensor_mb
    return run(argc, argv);
  } catch (const std::exception &e) {
    std::cerr << "pprun: error: " << ppc::errorSummary(e) << "\n";
  }
  return 1;
}
