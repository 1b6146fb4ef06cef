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
// keeps until its backward. For zero-bubble the graph optimizer is off, as on
// pprun's ranks that split backwards, and I is timed in runs of its own that
// take the gradients of the received inputs alone; W is the rest of B.
//
//===----------------------------------------------------------------------===//
#include "driver/TimeStages.h"

#include "driver/TimingSupport.h"

#include "codegen/StageModule.h"
#include "frontend/ModelImpl.h"
#include "ir/Diagnostics.h"
#include "support/ErrorText.h"
#include "support/MemoryCounter.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <optional>
#include <unordered_set>

using namespace ppc;

namespace {

int64_t liveTensorBytes() { return memoryCounterInstalled() ? liveBytes(memoryOwner()) : 0; }

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
    // Training parameters require grad, as pprun's trainer makes them.
    std::optional<ParameterGrads> grads;
    if (opts.training)
      grads.emplace(module);
    Run run = opts.training ? Run::Backward : Run::Forward;
    for (int i = 0; i < 2; ++i)
      once(run);
    StageMeasurement first = once(run);
    double each = std::max(first.forwardMs + first.backwardMs, 1e-3);
    int repeats = std::clamp(int(opts.budgetMs / each), opts.minRepeats, opts.maxRepeats);
    std::vector<double> forward{first.forwardMs}, backward{first.backwardMs};
    for (int r = 1; r < repeats; ++r) {
      if (grads)
        grads->clear();
      StageMeasurement m = once(run);
      forward.push_back(m.forwardMs);
      backward.push_back(m.backwardMs);
    }
    // What the forward keeps is the same every run, unlike its time.
    StageMeasurement result{median(forward), median(backward), first.activationBytes};
    if (opts.training && opts.splitBackward)
      result.inputGradMs = std::min(result.backwardMs, medianInputGradMs(opts.minRepeats));
    return result;
  }

private:
  /// Copies of the inputs; in training, what comes from other stages as
  /// gradient leaves, as pprun's forward receives it.
  std::vector<c10::IValue> copies(bool training, std::vector<at::Tensor> &leaves) const {
    DeepCopy plain, asLeaves(&leaves);
    std::vector<c10::IValue> args;
    for (size_t i = 0; i < inputs.size(); ++i)
      args.push_back(training && received[i] ? asLeaves(inputs[i]) : plain(inputs[i]));
    return args;
  }

  enum class Run { Forward, Backward, InputGrads };

  /// I alone: the gradients of the received inputs (none on a first stage).
  double medianInputGradMs(int repeats) {
    std::vector<double> times;
    for (int r = 0; r < repeats + 1; ++r) // one warm-up for the new backward
      times.push_back(once(Run::InputGrads).backwardMs);
    times.erase(times.begin());
    return median(times);
  }

  StageMeasurement once(Run run) {
    bool training = run != Run::Forward;
    std::vector<at::Tensor> leaves;
    std::vector<c10::IValue> args = copies(training, leaves);
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
    differentiable(out, roots);
    if (roots.empty())
      return m;
    std::vector<at::Tensor> grads;
    for (const at::Tensor &r : roots)
      grads.push_back(torch::ones_like(r));
    if (run == Run::InputGrads && leaves.empty())
      return m;
    start = Clock::now();
    if (run == Run::InputGrads)
      torch::autograd::grad(roots, leaves, grads, /*retain_graph=*/false, /*create_graph=*/false,
                            /*allow_unused=*/true);
    else
      torch::autograd::backward(roots, grads);
    m.backwardMs = msSince(start);
    return m;
  }

  torch::jit::Module module;
  std::vector<c10::IValue> inputs;
  std::vector<bool> received; // from another stage, not a model input
};

} // namespace

std::vector<StageMeasurement> ppc::timeStages(Model &model, const std::vector<unsigned> &positions,
                                              const StageTimingOptions &opts) {
  ModelImpl &impl = model.impl();
  Graph &g = impl.ir;
  if (impl.exampleValues.empty())
    throw CompileError("timing stages needs example inputs", "pass --example-inputs IO.pt");
  IntraOpThreads oneThread(1);
  torch::jit::GraphOptimizerEnabledGuard asPprunRuns(!(opts.training && opts.splitBackward));
  std::unordered_map<const Value *, c10::IValue> env;
  std::unordered_set<const Value *> modelInputs(g.inputs().begin(), g.inputs().end());
  for (const Value *in : g.inputs())
    env[in] = impl.exampleValues.at(in);
  std::vector<StageMeasurement> measured;
  int id = 0;
  for (const OpRange &ops : regions(g, positions)) {
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
