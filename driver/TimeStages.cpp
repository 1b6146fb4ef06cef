//===- driver/TimeStages.cpp - Timing whole stages as pprun runs them -----===//
//
// Each stage of the partition is built as an in-memory module by the code
// that emits real stages and run the way pprun's ranks run it: the graph
// executor with its profiling run and optimizing passes (region timing turns
// them off to save compile time; here they are what is measured), one
// intra-op thread, inference under no-grad, training as a forward with
// autograd whose received inputs are gradient leaves and a backward from
// every differentiable output. Stages run in order on the example inputs, the
// first run of each on the originals so that state later stages read
// (growing lists) is what it would be at the boundary; every other run gets
// deep copies. Two warm-up runs let the executor profile and optimize; then
// the median of a number of runs that fits the time budget. In training the
// allocator's counter (support/MemoryCounter.h) gives the bytes a forward
// keeps until its backward.
//
//===----------------------------------------------------------------------===//
#include "driver/TimeStages.h"

#include "codegen/StageModule.h"
#include "frontend/ModelImpl.h"
#include "ir/Diagnostics.h"
#include "support/ErrorText.h"
#include "support/MemoryCounter.h"

#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <chrono>
#include <unordered_set>

using namespace ppc;

namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

/// A copy that shares no mutable state with `v`: tensors cloned, tuples,
/// lists and dicts rebuilt around copies of their elements.
c10::IValue deepCopy(const c10::IValue &v) {
  if (v.isTensor())
    return v.toTensor().clone();
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const c10::IValue &e : v.toTupleRef().elements())
      items.push_back(deepCopy(e));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (v.isList()) {
    c10::impl::GenericList list = v.toList();
    c10::impl::GenericList copy(list.elementType());
    for (const c10::IValue &e : list.vec())
      copy.push_back(deepCopy(e));
    return copy;
  }
  if (v.isGenericDict()) {
    c10::impl::GenericDict dict = v.toGenericDict();
    c10::impl::GenericDict copy(dict.keyType(), dict.valueType());
    for (const auto &entry : dict)
      copy.insert(deepCopy(entry.key()), deepCopy(entry.value()));
    return copy;
  }
  return v;
}

/// `v` with every floating-point tensor replaced by a leaf that requires
/// grad, as pprun's training forward receives values from other stages.
c10::IValue asGradLeaves(const c10::IValue &v) {
  if (v.isTensor()) {
    at::Tensor t = v.toTensor();
    return t.is_floating_point() ? t.detach().requires_grad_(true) : t;
  }
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const c10::IValue &e : v.toTupleRef().elements())
      items.push_back(asGradLeaves(e));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  return v;
}

void differentiableLeaves(const c10::IValue &v, std::vector<at::Tensor> &out) {
  if (v.isTensor() && v.toTensor().requires_grad())
    out.push_back(v.toTensor());
  else if (v.isTuple())
    for (const c10::IValue &e : v.toTupleRef().elements())
      differentiableLeaves(e, out);
  else if (v.isList())
    for (const c10::IValue &e : v.toList().vec())
      differentiableLeaves(e, out);
}

int64_t liveTensorBytes() { return memoryCounterInstalled() ? liveBytes(memoryOwner()) : 0; }

double median(std::vector<double> times) {
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

/// One stage and the values it runs on.
class StageRunner {
public:
  StageRunner(torch::jit::Module module, std::vector<c10::IValue> inputs,
              std::vector<bool> received)
      : module(std::move(module)), inputs(std::move(inputs)), received(std::move(received)) {}

  /// The run on the original inputs, whose outputs later stages read.
  c10::IValue firstRun() {
    torch::NoGradGuard noGrad;
    return module.forward(inputs);
  }

  StageMeasurement measure(const StageTimingOptions &opts) {
    for (int i = 0; i < 2; ++i)
      once(opts.training);
    StageMeasurement first = once(opts.training);
    double each = std::max(first.forwardMs + first.backwardMs, 1e-3);
    int repeats = std::clamp(int(opts.budgetMs / each), opts.minRepeats, opts.maxRepeats);
    std::vector<double> forward{first.forwardMs}, backward{first.backwardMs};
    for (int r = 1; r < repeats; ++r) {
      StageMeasurement m = once(opts.training);
      forward.push_back(m.forwardMs);
      backward.push_back(m.backwardMs);
    }
    clearGradients();
    // What the forward keeps is the same every run, unlike its time.
    return {median(forward), median(backward), first.activationBytes};
  }

private:
  std::vector<c10::IValue> copies(bool training) const {
    std::vector<c10::IValue> args;
    for (size_t i = 0; i < inputs.size(); ++i) {
      c10::IValue v = deepCopy(inputs[i]);
      args.push_back(training && received[i] ? asGradLeaves(v) : v);
    }
    return args;
  }

  StageMeasurement once(bool training) {
    std::vector<c10::IValue> args = copies(training);
    torch::AutoGradMode gradMode(training);
    int64_t liveBefore = liveTensorBytes();
    auto start = Clock::now();
    c10::IValue out = module.forward(args);
    StageMeasurement m;
    m.forwardMs = msSince(start);
    if (!training)
      return m;
    // Saved tensors and outputs, alive until the backward as in pprun.
    if (memoryCounterInstalled())
      m.activationBytes = double(liveTensorBytes() - liveBefore);
    std::vector<at::Tensor> roots;
    differentiableLeaves(out, roots);
    if (roots.empty())
      return m;
    std::vector<at::Tensor> grads;
    for (const at::Tensor &r : roots)
      grads.push_back(torch::ones_like(r));
    start = Clock::now();
    torch::autograd::backward(roots, grads);
    m.backwardMs = msSince(start);
    return m;
  }

  /// The stage shares parameters with the loaded model, which emits them.
  void clearGradients() {
    for (at::Tensor p : module.parameters())
      if (p.grad().defined())
        p.mutable_grad().reset();
  }

  torch::jit::Module module;
  std::vector<c10::IValue> inputs;
  std::vector<bool> received; // from another stage, not a model input
};

/// Sets the intra-op thread count for its lifetime.
class IntraOpThreads {
public:
  explicit IntraOpThreads(int n) : saved(at::get_num_threads()) { at::set_num_threads(n); }
  ~IntraOpThreads() { at::set_num_threads(saved); }

private:
  int saved;
};

std::vector<OpRange> stageRanges(const Graph &g, const std::vector<unsigned> &positions) {
  std::vector<OpRange> ranges;
  unsigned begin = 0;
  for (unsigned p : positions) {
    ranges.push_back({begin, p});
    begin = p;
  }
  ranges.push_back({begin, unsigned(g.ops().size())});
  return ranges;
}

} // namespace

std::vector<StageMeasurement> ppc::timeStages(Model &model, const std::vector<unsigned> &positions,
                                              const StageTimingOptions &opts) {
  ModelImpl &impl = model.impl();
  Graph &g = impl.ir;
  if (impl.exampleValues.empty())
    throw CompileError("timing stages needs example inputs", "pass --example-inputs IO.pt");
  IntraOpThreads oneThread(1);
  torch::jit::GraphOptimizerEnabledGuard asPprunRuns(true);
  std::unordered_map<const Value *, c10::IValue> env;
  std::unordered_set<const Value *> modelInputs(g.inputs().begin(), g.inputs().end());
  for (const Value *in : g.inputs())
    env[in] = impl.exampleValues.at(in);
  std::vector<StageMeasurement> measured;
  int id = 0;
  for (const OpRange &ops : stageRanges(g, positions)) {
    StageInterface io = regionInterface(g, ops);
    std::vector<c10::IValue> inputs;
    std::vector<bool> received;
    for (const Value *v : io.inputs) {
      inputs.push_back(env.at(v));
      received.push_back(!modelInputs.count(v));
    }
    StageRunner runner(buildRegionModule(model, ops, io, id), inputs, received);
    try {
      c10::IValue result = runner.firstRun();
      const auto &outs = result.toTupleRef().elements();
      for (size_t i = 0; i < outs.size(); ++i)
        env[io.outputs[i]] = outs[i];
      measured.push_back(runner.measure(opts));
    } catch (const std::exception &e) {
      throw CompileError("could not time stage " + std::to_string(id) + " (ops from '" +
                         g.ops()[ops.begin]->path + "'): " + errorSummary(e));
    }
    ++id;
  }
  return measured;
}
