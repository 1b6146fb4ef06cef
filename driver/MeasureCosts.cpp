//===- driver/MeasureCosts.cpp - Timing op regions on example inputs ------===//
//
// `--balance time`: the ops between consecutive candidate split points form
// regions; each region is built as an in-memory stage module (the same code
// that emits real stages), run in order on the example inputs and on what
// earlier regions produced, and timed with one intra-op thread: one warm-up
// run on the originals (the one whose results feed later regions), then the
// median of a few repeats, each on a deep copy of the region's inputs as
// they were before the warm-up, in the interpreter without the executor's
// profiling passes. With MeasureOptions::backward each region is also run
// with grad and its backward timed the same way. A region's time is spread
// over its ops in proportion to their analytic cost (evenly when none is
// known), so that any partition along candidate boundaries sums exactly to
// measured region times. A region that cannot be timed keeps its analytic
// cost, with one warning.
//
//===----------------------------------------------------------------------===//
#include "driver/MeasureCosts.h"

#include "driver/TimingSupport.h"

#include "codegen/StageModule.h"
#include "frontend/ModelImpl.h"
#include "ir/Diagnostics.h"
#include "support/ErrorText.h"

#include <ATen/Parallel.h>
#include <llvm/Support/raw_ostream.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <chrono>
#include <optional>

using namespace ppc;

namespace {

/// A region faster than this on its warm-up is timed once more only: most
/// regions are a view or an activation, whose error is a few microseconds of
/// a stage's milliseconds.
constexpr double kQuickMs = 0.5;

/// The median forward time of `repeats` runs on copies of `snapshot`.
double medianMs(torch::jit::Module &region, const std::vector<c10::IValue> &snapshot, int repeats) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    std::vector<c10::IValue> args = copyAll(snapshot);
    auto start = Clock::now();
    region.forward(args);
    times.push_back(msSince(start));
  }
  return median(times);
}

/// One forward with grad on copies of `snapshot`, then the time of the
/// backward from its outputs with gradients of ones; nullopt when no output
/// needs a gradient (no differentiable input or parameter reaches one).
std::optional<double> backwardOnceMs(torch::jit::Module &region,
                                     const std::vector<c10::IValue> &snapshot) {
  std::vector<at::Tensor> leaves;
  std::vector<c10::IValue> args = copyAll(snapshot, &leaves);
  std::vector<at::Tensor> outs;
  differentiable(region.forward(args), outs);
  if (outs.empty())
    return std::nullopt;
  std::vector<at::Tensor> grads;
  for (const at::Tensor &t : outs)
    grads.push_back(at::ones_like(t));
  auto start = Clock::now();
  torch::autograd::backward(outs, grads);
  return msSince(start);
}

/// The median backward time of `repeats` runs after a warm-up one; 0 for a
/// region without gradients.
double medianBackwardMs(torch::jit::Module &region, const std::vector<c10::IValue> &snapshot,
                        int repeats) {
  torch::AutoGradMode withGrad(true);
  ParameterGrads grads(region);
  std::vector<double> times;
  for (int r = 0; r <= repeats; ++r) {
    grads.clear();
    std::optional<double> ms = backwardOnceMs(region, snapshot);
    if (!ms)
      return 0;
    if (r > 0) // run 0 is the warm-up
      times.push_back(*ms);
  }
  return median(times);
}

/// Sets `field` of the region's ops to their share of `ms`.
void spreadOverOps(Graph &g, const OpRange &ops, double ms, double OpCost::*field) {
  double total = 0;
  for (unsigned i = ops.begin; i < ops.end; ++i)
    total += g.ops()[i]->cost.flops + g.ops()[i]->cost.bytes;
  for (unsigned i = ops.begin; i < ops.end; ++i) {
    OpCost &c = g.ops()[i]->cost;
    c.*field = total > 0 ? ms * (c.flops + c.bytes) / total : ms / double(ops.end - ops.begin);
  }
}

/// The longest of `a` and its parent modules that holds `b`.
llvm::StringRef commonModule(llvm::StringRef a, llvm::StringRef b) {
  while (!a.empty() && b != a && !b.startswith(a.str() + "."))
    a = a.contains('.') ? a.rsplit('.').first : "";
  return a;
}

/// The module that holds the region's ops, for messages: the longest common
/// module path of those that have one.
std::string regionName(const Graph &g, const OpRange &ops) {
  std::optional<llvm::StringRef> common;
  for (unsigned i = ops.begin; i < ops.end; ++i) {
    llvm::StringRef path = g.ops()[i]->path;
    if (!path.empty())
      common = common ? commonModule(*common, path) : path;
  }
  return common && !common->empty() ? "'" + common->str() + "'" : "the top level";
}

/// Runs and times regions in program order on what earlier regions produced,
/// as stages would, so that values later ops change in place (growing or
/// shrinking lists) are as they are at each boundary.
class RegionTimer {
public:
  RegionTimer(Model &model, const MeasureOptions &opts, llvm::raw_ostream &warnings);
  /// Times `ops`; false when they could not run, so the values after them
  /// are unknown.
  bool time(const OpRange &ops, int id);

private:
  void timeRun(torch::jit::Module &region, const OpRange &ops,
               const std::vector<c10::IValue> &snapshot, double warmMs);
  void warn(const OpRange &ops, const char *what, const std::exception &e, const char *fallback);

  Model &model;
  Graph &g;
  MeasureOptions opts;
  llvm::raw_ostream &warnings;
  std::unordered_map<const Value *, c10::IValue> env;
};

RegionTimer::RegionTimer(Model &model, const MeasureOptions &opts, llvm::raw_ostream &warnings)
    : model(model), g(model.impl().ir), opts(opts), warnings(warnings) {
  // A copy, so that regions writing the model's inputs in place leave the
  // recorded example values as they were.
  DeepCopy copy;
  for (const Value *in : g.inputs())
    env[in] = copy(model.impl().exampleValues.at(in));
}

void RegionTimer::warn(const OpRange &ops, const char *what, const std::exception &e,
                       const char *fallback) {
  warnings << "ppc: warning: could not time " << what << " ops of " << regionName(g, ops) << " ("
           << errorSummary(e) << "); " << fallback << "\n";
}

bool RegionTimer::time(const OpRange &ops, int id) {
  StageInterface io = regionInterface(g, ops);
  std::vector<c10::IValue> inputs;
  for (const Value *v : io.inputs)
    inputs.push_back(env.at(v));
  torch::jit::Module region;
  std::vector<c10::IValue> snapshot;
  c10::IValue result;
  double warmMs = 0;
  try {
    region = buildRegionModule(model, ops, io, id);
    // Taken before the warm-up, which changes the originals as the stage
    // would (a popped list stays popped for later regions): every timed run
    // starts from the state at this region's boundary.
    snapshot = copyAll(inputs);
    auto start = Clock::now();
    result = region.forward(inputs);
    warmMs = msSince(start);
  } catch (const InternalError &) {
    throw; // a bug in ppc, not something a fallback should hide
  } catch (const std::exception &e) {
    warn(ops, "the", e, "using the analytic cost there and after it");
    return false;
  }
  const auto &outs = result.toTupleRef().elements();
  for (size_t i = 0; i < outs.size(); ++i)
    env[io.outputs[i]] = outs[i];
  timeRun(region, ops, snapshot, warmMs);
  return true;
}

/// The timed runs after a successful warm-up; a failure here leaves the
/// outputs the warm-up recorded, so later regions still run.
void RegionTimer::timeRun(torch::jit::Module &region, const OpRange &ops,
                          const std::vector<c10::IValue> &snapshot, double warmMs) {
  int repeats = warmMs < kQuickMs ? 1 : opts.repeats;
  try {
    spreadOverOps(g, ops, medianMs(region, snapshot, repeats), &OpCost::timeMs);
  } catch (const std::exception &e) {
    warn(ops, "the", e, "using the analytic cost there");
    return;
  }
  if (!opts.backward)
    return;
  try {
    spreadOverOps(g, ops, medianBackwardMs(region, snapshot, repeats), &OpCost::backwardMs);
  } catch (const std::exception &e) {
    warn(ops, "the backward of the", e, "its backward is left unmeasured (0)");
  }
}

} // namespace

void ppc::measureRegionCosts(Model &model, const std::vector<unsigned> &boundaries,
                             const MeasureOptions &opts, llvm::raw_ostream &warnings) {
  ModelImpl &impl = model.impl();
  if (impl.exampleValues.empty())
    throw CompileError("--balance time needs example inputs",
                       "pass --example-inputs IO.pt, or use --balance flops");
  IntraOpThreads oneThread(1);
  torch::NoGradGuard noGrad;
  // Each region runs a handful of times: the executor's profiling runs and
  // optimizing passes would be most of the time spent here, and without a
  // CPU fuser they do not change what a region's ops cost.
  torch::jit::GraphOptimizerEnabledGuard interpretOnly(false);
  RegionTimer timer(model, opts, warnings);
  int id = 0;
  for (const OpRange &ops : regions(impl.ir, boundaries))
    // After a region that could not run, the values later regions read are
    // missing, and what it changed in place before failing (a list popped
    // once) is not the state at the next boundary: rerunning earlier
    // regions would not recover it either, so the rest keeps the analytic
    // cost rather than being timed on wrong state.
    if (!timer.time(ops, id++))
      return;
}
