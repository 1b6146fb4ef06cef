//===- driver/TimeStages.cpp - Timing whole stages as pprun runs them -----===//
//
// Each stage of the partition is built as an in-memory module by the code
// that emits real stages and run the way pprun's ranks run it: the graph
// executor with its profiling run and optimizing passes (region timing turns
// them off to save compile time; here they are what is measured), one
// intra-op thread, inference under no-grad, training as a forward with
// autograd whose received inputs are gradient leaves and a backward from
// the outputs later stages read and, on the stage of model output 0, from
// the loss pprun will train with (a 50257-word cross-entropy is a large part
// of GPT-2's last stage); outputs only the model returns get no gradient,
// as in pprun. Stages run in order on the example inputs, the
// first run of each on the originals so that state later stages read
// (growing lists) is what it would be at the boundary; every other run gets
// deep copies. Each stage is timed in runs of its own, warm, as on its own
// rank, after warm-up runs (the executor profiles and optimizes, the
// stage's caches and heap settle): the median of as many runs as fit the
// time budget, in three passes over the stages in alternating order, so
// that a machine whose load drifts slows all stages alike rather than
// skewing their ratios (what the plan balances). In
// training the allocator's counter (support/MemoryCounter.h) gives the bytes
// a forward keeps until its backward. For zero-bubble the graph optimizer is off, as on
// pprun's ranks that split backwards, and I is timed in runs of its own that
// split the backward as those ranks do (runtime/SplitBackward.h), which also
// give the bytes still alive between I and W; W is the rest of B.
//
//===----------------------------------------------------------------------===//
#include "driver/TimeStages.h"

#include "driver/TimingSupport.h"

#include "codegen/StageModule.h"
#include "frontend/ModelImpl.h"
#include "ir/Diagnostics.h"
#include "runtime/Loss.h"
#include "runtime/SplitBackward.h"
#include "support/ErrorText.h"
#include "support/MemoryCounter.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <unordered_set>

using namespace ppc;

namespace {

int64_t liveTensorBytes() { return memoryCounterInstalled() ? liveBytes(memoryOwner()) : 0; }

/// Where a stage's backward starts: the outputs later stages read, and the
/// loss on model output 0 if the stage returns it.
struct BackwardRoots {
  std::vector<bool> readLater; // per output
  int lossOutput = -1;         // index among the outputs, or -1
  const rt::LossSpec *loss = nullptr;
};

/// One stage and the values it runs on.
class StageRunner {
public:
  StageRunner(torch::jit::Module module, std::vector<c10::IValue> inputs,
              std::vector<bool> received, BackwardRoots from)
      : module(std::move(module)), inputs(std::move(inputs)), received(std::move(received)),
        from(std::move(from)) {}

  /// The run on the original inputs, whose outputs later stages read.
  c10::IValue firstRun() {
    torch::NoGradGuard noGrad;
    return module.forward(inputs);
  }

  /// Training parameters require grad, as pprun's trainer makes them; the
  /// runner sets them before its first timed run.
  void prepare(const StageTimingOptions &opts) {
    if (opts.training)
      grads.emplace(module);
  }

  /// Split: zero-bubble's I then W, as pprun's ranks run them.
  enum class Run { Forward, Backward, Split };

  StageMeasurement once(Run run) {
    if (grads)
      grads->clear();
    return timedRun(run);
  }

  /// Restores the parameters' requires_grad; stages that share a parameter
  /// (tied weights) must end in the reverse order they were prepared.
  void finish() { grads.reset(); }

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

  StageMeasurement timedRun(Run run) {
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
    std::vector<at::Tensor> roots, grads;
    backwardRoots(out, roots, grads);
    if (roots.empty())
      return m;
    if (run == Run::Split)
      return splitBackward(m, roots, std::move(grads), leaves, liveBefore);
    start = Clock::now();
    torch::autograd::backward(roots, grads);
    m.backwardMs = msSince(start);
    return m;
  }

  /// Ones for what later stages read (their gradients' cost does not depend
  /// on their values), and the loss of model output 0.
  void backwardRoots(const c10::IValue &out, std::vector<at::Tensor> &roots,
                     std::vector<at::Tensor> &grads) {
    const auto &outs = out.toTupleRef().elements();
    for (size_t i = 0; i < outs.size(); ++i) {
      if (from.readLater[i]) {
        size_t first = roots.size();
        differentiable(outs[i], roots);
        for (size_t r = first; r < roots.size(); ++r)
          grads.push_back(torch::ones_like(roots[r]));
      }
      if (int(i) == from.lossOutput)
        addLoss(outs[i], roots, grads);
    }
  }

  void addLoss(const c10::IValue &output, std::vector<at::Tensor> &roots,
               std::vector<at::Tensor> &grads) {
    std::vector<at::Tensor> leaves;
    differentiable(output, leaves);
    if (leaves.empty() || !from.loss)
      return;
    try {
      if (!target.defined())
        target = rt::placeholderTarget(*from.loss, leaves.front());
      roots.push_back(rt::computeLoss(*from.loss, leaves.front(), target));
    } catch (const std::exception &e) {
      throw CompileError("--loss " + from.loss->kind +
                             " does not apply to model output 0: " + errorSummary(e),
                         "pass ppc the --loss that pprun will train with");
    }
    grads.push_back(torch::ones_like(roots.back()));
  }

  /// I, then what it leaves alive for W, then W.
  StageMeasurement splitBackward(StageMeasurement m, const std::vector<at::Tensor> &roots,
                                 std::vector<at::Tensor> rootGrads,
                                 const std::vector<at::Tensor> &leaves, int64_t liveBefore) {
    std::shared_ptr<rt::WeightFrontier> frontier;
    auto start = Clock::now();
    std::vector<at::Tensor> inputGrads =
        rt::backwardInput(roots, rootGrads, leaves, grads->tensors(), frontier);
    m.inputGradMs = leaves.empty() ? 0 : msSince(start); // nothing to send back
    inputGrads.clear();                                  // sent to the previous stage, then dropped
    rootGrads.clear();
    if (memoryCounterInstalled())
      m.weightKeptBytes = double(liveTensorBytes() - liveBefore);
    start = Clock::now();
    rt::backwardWeight(*frontier);
    m.backwardMs = m.inputGradMs + msSince(start);
    return m;
  }

  torch::jit::Module module;
  std::vector<c10::IValue> inputs;
  std::vector<bool> received; // from another stage, not a model input
  BackwardRoots from;
  at::Tensor target; // for the loss, made on its first use
  std::optional<ParameterGrads> grads;
};

/// The runners of one partition, finished in reverse order however timing
/// ends.
struct Runners {
  std::vector<std::unique_ptr<StageRunner>> list;
  std::vector<std::string> names; // "stage K (ops from 'PATH')" for errors
  ~Runners() {
    while (!list.empty()) {
      list.back()->finish();
      list.pop_back();
    }
  }
};

/// Runs `fn` for stage `k`, naming the stage in any failure.
template <typename Fn> auto forStage(const Runners &runners, size_t k, Fn &&fn) {
  try {
    return fn(*runners.list[k]);
  } catch (const CompileError &) {
    throw;
  } catch (const std::exception &e) {
    throw CompileError("could not time " + runners.names[k] + ": " + errorSummary(e));
  }
}

/// Per stage in `order`, `warmUps` discarded runs then `kept(k, last
/// warm-up)` kept ones, one stage after another: each stage is timed warm,
/// as on its own rank. (Right after another stage ran, a stage's first few
/// runs are up to 20% slower, its caches and heap taken by the other's;
/// timing one run of every stage a round measured that, not what pprun's
/// ranks see.)
template <typename KeptFn>
void blockRuns(const Runners &runners, StageRunner::Run run, const std::vector<size_t> &order,
               int warmUps, KeptFn &&kept, std::vector<std::vector<StageMeasurement>> &runs) {
  runs.resize(runners.list.size());
  for (size_t k : order) {
    StageMeasurement last;
    for (int r = 0; r < warmUps; ++r)
      last = forStage(runners, k, [&](StageRunner &s) { return s.once(run); });
    for (int r = 0, n = kept(k, last); r < n; ++r)
      runs[k].push_back(forStage(runners, k, [&](StageRunner &s) { return s.once(run); }));
  }
}

/// Kept runs for a stage whose run takes `ms`: what fits the budget.
int repeatsFor(double ms, const StageTimingOptions &opts) {
  return std::clamp(int(opts.budgetMs / std::max(ms, 1e-3)), opts.minRepeats, opts.maxRepeats);
}

/// Runs of every stage in three passes, the middle one in reverse order, so
/// that load drifting or bursting while timing slows the stages alike
/// instead of whichever ran then, and their ratios (what the plan balances)
/// hold. The first pass warms up four runs (two let the executor profile and
/// optimize), the others three: a stage's runs have settled by then.
/// `repeats` (of a stage's last warm-up) says how many runs in all, shared
/// out over the passes.
template <typename RepeatsFn>
std::vector<std::vector<StageMeasurement>>
threePassRuns(const Runners &runners, StageRunner::Run run, RepeatsFn &&repeats) {
  constexpr int passes = 3;
  std::vector<size_t> order(runners.list.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<int> total(order.size());
  std::vector<std::vector<StageMeasurement>> runs;
  blockRuns(
      runners, run, order, 4,
      [&](size_t k, const StageMeasurement &warm) {
        total[k] = repeats(warm);
        return total[k] / passes;
      },
      runs);
  for (int pass = 1; pass < passes; ++pass) {
    std::reverse(order.begin(), order.end());
    blockRuns(
        runners, run, order, 3,
        [&](size_t k, const StageMeasurement &) {
          return (total[k] * (pass + 1)) / passes - (total[k] * pass) / passes;
        },
        runs);
  }
  return runs;
}

std::vector<StageMeasurement> measureStages(const Runners &runners,
                                            const StageTimingOptions &opts) {
  using Run = StageRunner::Run;
  std::vector<std::vector<StageMeasurement>> runs = threePassRuns(
      runners, opts.training ? Run::Backward : Run::Forward,
      [&](const StageMeasurement &m) { return repeatsFor(m.forwardMs + m.backwardMs, opts); });
  std::vector<std::vector<StageMeasurement>> inputGrads;
  if (opts.training && opts.splitBackward)
    inputGrads = threePassRuns(runners, Run::Split,
                               [&](const StageMeasurement &) { return opts.minRepeats; });
  std::vector<StageMeasurement> result;
  for (size_t k = 0; k < runners.list.size(); ++k) {
    std::vector<double> forward, backward;
    for (const StageMeasurement &m : runs[k]) {
      forward.push_back(m.forwardMs);
      backward.push_back(m.backwardMs);
    }
    // What the forward keeps is the same every run, unlike its time.
    StageMeasurement stage{median(forward), median(backward), runs[k].front().activationBytes};
    if (!inputGrads.empty()) {
      std::vector<double> inputs, splits;
      for (const StageMeasurement &m : inputGrads[k]) {
        inputs.push_back(m.inputGradMs);
        splits.push_back(m.backwardMs);
      }
      // I's share of the split backward, which costs more than the fused
      // one (the cost model's B) on small stages.
      double split = median(splits);
      stage.inputGradMs = split > 0 ? stage.backwardMs * std::min(1.0, median(inputs) / split) : 0;
      stage.weightKeptBytes = inputGrads[k].front().weightKeptBytes;
    }
    result.push_back(stage);
  }
  return result;
}

rt::LossSpec loadLoss(const std::string &spec) {
  try {
    return rt::makeLoss(spec);
  } catch (const std::exception &e) {
    throw CompileError(errorSummary(e), "pass --loss cross_entropy, mse or a TorchScript file");
  }
}

BackwardRoots backwardRoots(const Graph &g, const OpRange &ops, const StageInterface &io,
                            const std::optional<rt::LossSpec> &loss) {
  BackwardRoots from;
  from.loss = loss ? &*loss : nullptr;
  for (size_t i = 0; i < io.outputs.size(); ++i) {
    const Value *v = io.outputs[i];
    from.readLater.push_back(std::any_of(v->users.begin(), v->users.end(),
                                         [&](const Op *u) { return u->index >= ops.end; }));
    if (!g.outputs().empty() && v == g.outputs().front())
      from.lossOutput = int(i);
  }
  return from;
}

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
  std::optional<rt::LossSpec> loss;
  if (opts.training)
    loss = loadLoss(opts.loss);
  for (const Value *in : g.inputs())
    env[in] = impl.exampleValues.at(in);
  Runners runners;
  int id = 0;
  for (const OpRange &ops : regions(g, positions)) {
    StageInterface io = regionInterface(g, ops);
    std::vector<c10::IValue> inputs;
    std::vector<bool> received;
    for (const Value *v : io.inputs) {
      inputs.push_back(env.at(v));
      received.push_back(!modelInputs.count(v));
    }
    runners.names.push_back("stage " + std::to_string(id) + " (ops from '" +
                            g.ops()[ops.begin]->path + "')");
    runners.list.push_back(std::make_unique<StageRunner>(
        buildRegionModule(model, ops, io, id), inputs, received, backwardRoots(g, ops, io, loss)));
    c10::IValue result =
        forStage(runners, runners.list.size() - 1, [](StageRunner &s) { return s.firstRun(); });
    const auto &outs = result.toTupleRef().elements();
    for (size_t i = 0; i < outs.size(); ++i)
      env[io.outputs[i]] = outs[i];
    ++id;
  }
  for (auto &runner : runners.list)
    runner->prepare(opts);
  return measureStages(runners, opts);
}
