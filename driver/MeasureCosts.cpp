//===- driver/MeasureCosts.cpp - Timing op regions on example inputs ------===//
//
// `--balance time`: the ops between consecutive candidate split points form
// regions; each region is built as an in-memory stage module (the same code
// that emits real stages), run in order on the example inputs and on what
// earlier regions produced, and timed with one intra-op thread: one warm-up
// run (the one whose results feed later regions), then the median of a few
// repeats on copies, in the interpreter without the executor's profiling
// passes. A region's time is spread over its ops in proportion to their
// analytic cost (evenly when none is known), so that any partition along
// candidate boundaries sums exactly to measured region times.
//
//===----------------------------------------------------------------------===//
#include "driver/MeasureCosts.h"

#include "codegen/StageModule.h"
#include "frontend/ModelImpl.h"
#include "ir/Diagnostics.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <chrono>

using namespace ppc;

namespace {

/// Deep-copies tensors so that in-place ops in a region cannot change the
/// recorded example values between repeats.
c10::IValue freshCopy(const c10::IValue &v) {
  if (v.isTensor())
    return v.toTensor().clone();
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto &e : v.toTupleRef().elements())
      items.push_back(freshCopy(e));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (v.isTensorList()) {
    c10::List<at::Tensor> list;
    for (const at::Tensor &t : v.toTensorList().vec())
      list.push_back(t.clone());
    return list;
  }
  return v;
}

double msOf(torch::jit::Module &region, const std::vector<c10::IValue> &args) {
  auto start = std::chrono::steady_clock::now();
  region.forward(args);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

/// The median of `repeats` runs on copies of `inputs`, after `warmMs`, the
/// first run's time; a region faster than kQuickMs is timed once more only:
/// most regions are a view or an activation, whose error is a few
/// microseconds of a stage's milliseconds.
double medianMs(torch::jit::Module &region, const std::vector<c10::IValue> &inputs, double warmMs,
                int repeats) {
  constexpr double kQuickMs = 0.5;
  if (warmMs < kQuickMs)
    repeats = 1;
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    std::vector<c10::IValue> args;
    for (const c10::IValue &v : inputs)
      args.push_back(freshCopy(v));
    times.push_back(msOf(region, args));
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

void spreadOverOps(Graph &g, const OpRange &ops, double ms) {
  double total = 0;
  for (unsigned i = ops.begin; i < ops.end; ++i)
    total += g.ops()[i]->cost.flops + g.ops()[i]->cost.bytes;
  for (unsigned i = ops.begin; i < ops.end; ++i) {
    OpCost &c = g.ops()[i]->cost;
    c.timeMs = total > 0 ? ms * (c.flops + c.bytes) / total : ms / double(ops.end - ops.begin);
  }
}

/// Sets the intra-op thread count for its lifetime, so timing is not
/// disturbed by other cores and an exception cannot leave it changed.
class IntraOpThreads {
public:
  explicit IntraOpThreads(int n) : saved(at::get_num_threads()) { at::set_num_threads(n); }
  ~IntraOpThreads() { at::set_num_threads(saved); }

private:
  int saved;
};

/// The regions between consecutive cuts, without empty ones.
std::vector<OpRange> regions(const Graph &g, const std::vector<unsigned> &boundaries) {
  std::vector<unsigned> cuts(boundaries);
  cuts.push_back(0);
  cuts.push_back(g.ops().size());
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<OpRange> out;
  for (size_t i = 0; i + 1 < cuts.size(); ++i)
    if (cuts[i] < cuts[i + 1] && cuts[i + 1] <= g.ops().size())
      out.push_back({cuts[i], cuts[i + 1]});
  return out;
}

} // namespace

void ppc::measureRegionCosts(Model &model, const std::vector<unsigned> &boundaries, int repeats) {
  ModelImpl &impl = model.impl();
  Graph &g = impl.ir;
  if (impl.exampleValues.empty())
    throw CompileError("--balance time needs example inputs",
                       "pass --example-inputs IO.pt, or use --balance flops");
  IntraOpThreads oneThread(1);
  torch::NoGradGuard noGrad;
  // Each region runs a handful of times: the executor's profiling runs and
  // optimizing passes would be most of the time spent here, and without a
  // CPU fuser they do not change what a region's ops cost.
  torch::jit::GraphOptimizerEnabledGuard interpretOnly(false);
  // Regions run in order on what earlier regions produced, as stages would,
  // so values that later ops change in place (growing lists) are as they are
  // at each boundary.
  std::unordered_map<const Value *, c10::IValue> env;
  for (const Value *in : g.inputs())
    env[in] = impl.exampleValues.at(in);
  int id = 0;
  for (const OpRange &ops : regions(g, boundaries)) {
    StageInterface io = regionInterface(g, ops);
    std::vector<c10::IValue> inputs;
    for (const Value *v : io.inputs)
      inputs.push_back(env.at(v));
    torch::jit::Module region = buildRegionModule(model, ops, io, id++);
    // The run on the originals, which advances the state, is also the
    // warm-up: the timed runs get copies of its inputs.
    auto start = std::chrono::steady_clock::now();
    c10::IValue result = region.forward(inputs);
    double warmMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    spreadOverOps(g, ops, medianMs(region, inputs, warmMs, repeats));
    const auto &outs = result.toTupleRef().elements();
    for (size_t i = 0; i < outs.size(); ++i)
      env[io.outputs[i]] = outs[i];
  }
}
