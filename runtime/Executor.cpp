//===- runtime/Executor.cpp - Running one rank's actions ------------------===//
//
// See Executor.h. Stage modules are loaded and checked against the manifest
// when the executor is built, before any work. Values sent between stages
// are detached; a receiving stage makes floating-point tensors fresh leaves
// that require grad, so its backward yields exactly the gradients to return.
//
//===----------------------------------------------------------------------===//
#include "runtime/Executor.h"

#include "runtime/Microbatch.h"
#include "runtime/SplitBackward.h"
#include "support/ErrorText.h"

#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

using namespace ppc::rt;
using ppc::sched::Action;
using ppc::sched::ActionKind;

std::string ppc::rt::activationKey(const std::string &value, int mb, int consumer) {
  return "A|" + value + "|" + std::to_string(mb) + "|" + std::to_string(consumer);
}

std::string ppc::rt::gradientKey(const std::string &value, int mb, int consumer) {
  return "G|" + value + "|" + std::to_string(mb) + "|" + std::to_string(consumer);
}

static torch::jit::Module loadStage(const Manifest &m, const StageSpec &spec, c10::Device device) {
  std::string path = m.dir + "/" + spec.file;
  if (!std::filesystem::exists(path))
    throw std::runtime_error("stage file '" + path + "' is missing; recompile with ppc");
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, device);
  } catch (const std::exception &e) {
    throw std::runtime_error("cannot load '" + path + "': " + ppc::errorSummary(e));
  }
  size_t args = module.get_method("forward").function().getSchema().arguments().size() - 1;
  if (args != spec.inputs.size())
    throw std::runtime_error("stage " + std::to_string(spec.index) + " (" + spec.file + ") takes " +
                             std::to_string(args) + " inputs, pipeline.json lists " +
                             std::to_string(spec.inputs.size()) + "; recompile with ppc");
  return module;
}

Executor::Executor(const Manifest &manifest, Transport &transport, bool training, LossSpec loss,
                   const Placement &placement)
    : manifest(manifest), transport(transport), training(training), loss(std::move(loss)),
      placement(placement) {
  for (const StageSpec &spec : manifest.stages)
    if (rankOf(spec.index) == transport.rank()) {
      torch::jit::Module m = loadStage(manifest, spec, placement.device);
      training ? m.train() : m.eval();
      modules.emplace(spec.index, m);
    }
  for (size_t i = 0; i < manifest.inputs.size(); ++i)
    inputIndex[manifest.inputs[i].name] = i;
  computesLoss = training && rankOf(manifest.outputs.at(0).stage) == transport.rank();
  bool anyRecompute = training && std::any_of(manifest.stages.begin(), manifest.stages.end(),
                                              [](const StageSpec &s) { return s.recompute; });
  for (auto &[index, m] : modules)
    locksRng[index] = anyRecompute && drawsRandomNumbers(m);
}

std::vector<at::Tensor> Executor::parameters() {
  std::vector<at::Tensor> params;
  for (auto &[index, m] : modules)
    for (const at::Tensor &p : m.parameters())
      params.push_back(p);
  return params;
}

at::Tensor Executor::lossOf(const c10::IValue &output, const at::Tensor &targetOnHost,
                            double share) {
  std::vector<at::Tensor> leaves = tensorLeaves(output);
  if (leaves.empty())
    throw std::runtime_error("model output 0 holds no tensor to compute a loss on");
  at::Tensor out = leaves.front();
  at::Tensor target = targetOnHost.to(out.device(), /*non_blocking=*/targetOnHost.is_pinned());
  return computeLoss(loss, out, target) * share;
}

std::vector<c10::IValue> Executor::stageInputs(int stage, int mb, const StepData &data) {
  std::vector<c10::IValue> args;
  for (const StageInput &in : manifest.stages[stage].inputs)
    args.push_back(in.from < 0 ? placement.toDevice(data.inputs[mb][inputIndex.at(in.value)])
                               : receive(activationKey(in.value, mb, stage), rankOf(in.from)));
  return args;
}

/// Runs the stage module; with grad, received inputs become fresh leaves
/// (kept in `record`) so that the backward yields the gradients to return.
std::vector<c10::IValue> Executor::runStage(int stage, std::vector<c10::IValue> args, Saved &record,
                                            bool withGrad) {
  const StageSpec &spec = manifest.stages[stage];
  record.inputLeaves.assign(args.size(), {});
  if (withGrad)
    for (size_t k = 0; k < args.size(); ++k)
      if (spec.inputs[k].from >= 0)
        args[k] = asGradLeaves(args[k], record.inputLeaves[k]);
  torch::AutoGradMode gradMode(withGrad);
  c10::IValue result = timedCompute([&] { return modules.at(stage).forward(args); });
  return result.toTupleRef().elements().vec();
}

void Executor::noteNonFinite(int stage, const c10::IValue &value) {
  if (!watchNonFinite)
    return;
  if (value.isTensor()) {
    const at::Tensor &t = value.toTensor();
    if (!t.defined() || !t.is_floating_point())
      return;
    at::Tensor bad = at::isfinite(t.detach()).all().logical_not();
    at::Tensor &seen = nonFiniteOutputs[stage];
    seen = seen.defined() ? seen.logical_or(bad) : bad;
  } else if (value.isTuple()) {
    for (const c10::IValue &e : value.toTupleRef().elements())
      noteNonFinite(stage, e);
  } else if (value.isList()) {
    for (const c10::IValue &e : value.toListRef())
      noteNonFinite(stage, e);
  }
}

std::vector<int> Executor::stagesWithNonFiniteOutputs() const {
  std::vector<int> stages;
  for (const auto &[stage, seen] : nonFiniteOutputs)
    if (seen.defined() && seen.item<bool>())
      stages.push_back(stage);
  return stages;
}

bool Executor::isLossOutput(int stage, size_t output) const {
  return training && manifest.outputs[0].stage == stage &&
         manifest.stages[stage].outputs[output] == manifest.outputs[0].value;
}

// The CPU generator (and a GPU's) is one per process, shared by rank threads.
// A recomputation replays a forward's draws by resetting the generator, so
// while some stage recomputes, the forwards that draw random numbers take
// turns; with nothing recomputed, or no draws, none waits.
static std::mutex rngMutex;

std::unique_lock<std::mutex> Executor::rngLock(int stage) {
  if (locksRng[stage])
    return std::unique_lock<std::mutex>(rngMutex);
  return std::unique_lock<std::mutex>(rngMutex, std::defer_lock);
}

void Executor::forward(int stage, int mb, const StepData &data) {
  const StageSpec &spec = manifest.stages[stage];
  bool recomputes = training && spec.recompute;
  Saved record;
  std::vector<c10::IValue> args = stageInputs(stage, mb, data);
  std::vector<c10::IValue> outs;
  {
    std::unique_lock<std::mutex> lock = rngLock(stage);
    if (recomputes) {
      // A stage that draws nothing leaves the generators alone: setting them
      // back would disturb another rank thread's draws.
      record.kept = Kept{args, locksRng[stage] ? captureRng(placement.device) : RngState{}, {}, 0};
      bufferWrites[stage].observe(
          modules.at(stage), [&] { outs = runStage(stage, args, record, /*withGrad=*/false); });
    } else {
      outs = runStage(stage, args, record, /*withGrad=*/training); // inference: no grad
    }
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    const std::string &name = spec.outputs[i];
    auto consumers = manifest.consumers.find(name);
    if (consumers != manifest.consumers.end())
      for (int c : consumers->second)
        if (c != stage)
          send(activationKey(name, mb, c), rankOf(c), detached(outs[i]));
    for (const ModelOutput &mo : manifest.outputs)
      if (mo.value == name && mo.stage == stage)
        outputs[{name, mb}] = detached(outs[i]);
    if (training)
      noteNonFinite(stage, outs[i]);
    if (isLossOutput(stage, i)) {
      at::Tensor l = lossOf(outs[i], data.targets[mb], data.shares[mb]);
      noteNonFinite(stage, l);
      lossTotal = lossTotal.defined() ? lossTotal + l.detach() : l.detach();
      if (recomputes)
        record.kept->target = data.targets[mb], record.kept->share = data.shares[mb];
      else
        record.loss = l;
    }
  }
  if (!training)
    return;
  if (!recomputes)
    record.outputs = std::move(outs);
  saved[{stage, mb}] = std::move(record);
}

/// The forward again, with grad, on the kept inputs: what a non-recomputing
/// stage's forward would have left for the backward.
void Executor::recompute(int stage, Saved &record) {
  if (!record.kept)
    return;
  Kept kept = std::move(*record.kept);
  record.kept.reset();
  {
    std::unique_lock<std::mutex> lock = rngLock(stage);
    replay(modules.at(stage), bufferWrites[stage].written(), kept.rng, placement.device,
           [&] { record.outputs = runStage(stage, kept.inputs, record, /*withGrad=*/true); });
  }
  for (size_t i = 0; i < record.outputs.size(); ++i)
    if (isLossOutput(stage, i))
      record.loss = lossOf(record.outputs[i], kept.target, kept.share);
}

/// Output gradients from every consumer (summed), plus the loss.
void Executor::gatherRoots(int stage, int mb, Saved &record) {
  const StageSpec &spec = manifest.stages[stage];
  for (size_t i = 0; i < spec.outputs.size(); ++i) {
    std::vector<at::Tensor> leaves = tensorLeaves(record.outputs[i]);
    std::vector<at::Tensor> sums(leaves.size());
    auto consumers = manifest.consumers.find(spec.outputs[i]);
    if (consumers != manifest.consumers.end())
      for (int c : consumers->second) {
        if (c == stage)
          continue;
        c10::IValue g = receive(gradientKey(spec.outputs[i], mb, c), rankOf(c));
        const auto &items = g.toTupleRef().elements();
        for (size_t j = 0; j < items.size() && j < sums.size(); ++j)
          if (items[j].isTensor())
            sums[j] = sums[j].defined() ? sums[j] + items[j].toTensor() : items[j].toTensor();
      }
    for (size_t j = 0; j < leaves.size(); ++j)
      if (sums[j].defined() && leaves[j].requires_grad()) {
        record.roots.push_back(leaves[j]);
        record.rootGrads.push_back(sums[j]);
      }
  }
  if (record.loss.defined()) {
    record.roots.push_back(record.loss);
    record.rootGrads.push_back(torch::ones_like(record.loss));
  }
}

/// Sends each received input's gradients (None where there is none) back to
/// its producer; `grads` holds one entry per input leaf that requires grad.
void Executor::sendInputGrads(int stage, int mb, Saved &record,
                              const std::vector<at::Tensor> &grads) {
  const StageSpec &spec = manifest.stages[stage];
  size_t next = 0;
  for (size_t k = 0; k < spec.inputs.size(); ++k) {
    if (spec.inputs[k].from < 0)
      continue;
    std::vector<c10::IValue> items;
    for (const at::Tensor &leaf : record.inputLeaves[k]) {
      at::Tensor g = leaf.requires_grad() ? grads[next++] : at::Tensor();
      items.push_back(g.defined() ? c10::IValue(g) : c10::IValue());
    }
    send(gradientKey(spec.inputs[k].value, mb, stage), rankOf(spec.inputs[k].from),
         c10::ivalue::Tuple::create(std::move(items)));
  }
}

static std::vector<at::Tensor> gradLeaves(const std::vector<std::vector<at::Tensor>> &inputs) {
  std::vector<at::Tensor> out;
  for (const auto &leaves : inputs)
    for (const at::Tensor &leaf : leaves)
      if (leaf.requires_grad())
        out.push_back(leaf);
  return out;
}

void Executor::backward(int stage, int mb) {
  Saved &record = saved.at({stage, mb});
  recompute(stage, record);
  gatherRoots(stage, mb, record);
  if (!record.roots.empty())
    timedCompute([&] { torch::autograd::backward(record.roots, record.rootGrads); });
  std::vector<at::Tensor> grads;
  for (const at::Tensor &leaf : gradLeaves(record.inputLeaves))
    grads.push_back(leaf.grad());
  sendInputGrads(stage, mb, record, grads);
  saved.erase({stage, mb});
}

std::vector<at::Tensor> Executor::gradParameters(int stage) {
  std::vector<at::Tensor> params;
  for (const at::Tensor &p : modules.at(stage).parameters())
    if (p.requires_grad())
      params.push_back(p);
  return params;
}

// I and W run disjoint parts of the autograd graph (runtime/SplitBackward.h),
// so no node of the graph runs in both.
void Executor::inputGrad(int stage, int mb) {
  Saved &record = saved.at({stage, mb});
  recompute(stage, record);
  gatherRoots(stage, mb, record);
  std::vector<at::Tensor> leaves = gradLeaves(record.inputLeaves);
  std::vector<at::Tensor> grads(leaves.size());
  if (!record.roots.empty())
    grads = timedCompute([&] {
      return backwardInput(record.roots, record.rootGrads, leaves, gradParameters(stage),
                           record.frontier);
    });
  sendInputGrads(stage, mb, record, grads);
  record.inputGradDone = true;
}

void Executor::weightGrad(int stage, int mb) {
  Saved &record = saved.at({stage, mb});
  if (record.frontier)
    timedCompute([&] { backwardWeight(*record.frontier); });
  saved.erase({stage, mb});
}

double Executor::sinceStart() const {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Keys carry the step so that a fast rank's next step never meets this one's.
c10::IValue Executor::receive(const std::string &key, int src) {
  double begin = sinceStart();
  c10::IValue v = transport.recv(stepPrefix + key, src);
  if (src != transport.rank())
    transfers.push_back({"recv " + key, begin, sinceStart()});
  return v;
}

void Executor::send(const std::string &key, int dst, const c10::IValue &value) {
  transport.send(stepPrefix + key, dst, value);
}

/// Whether every value `a` needs from another rank has been sent.
bool Executor::inputsArrived(const Action &a) {
  const StageSpec &spec = manifest.stages[a.stage];
  auto missing = [&](const std::string &key, int stage) {
    int src = rankOf(stage);
    return src != transport.rank() && !transport.hasArrived(stepPrefix + key, src);
  };
  if (a.kind == ActionKind::Forward) {
    for (const StageInput &in : spec.inputs)
      if (in.from >= 0 && missing(activationKey(in.value, a.microbatch, a.stage), in.from))
        return false;
    return true;
  }
  if (a.kind == ActionKind::WeightGrad)
    return true;
  for (const std::string &name : spec.outputs) {
    auto consumers = manifest.consumers.find(name);
    if (consumers != manifest.consumers.end())
      for (int c : consumers->second)
        if (c != a.stage && missing(gradientKey(name, a.microbatch, c), c))
          return false;
  }
  return true;
}

/// The first W after `next` not run yet, if its I has run.
std::optional<size_t> Executor::readyWeightGrad(const std::vector<Action> &actions, size_t next,
                                                const std::vector<bool> &ran) {
  for (size_t j = next + 1; j < actions.size(); ++j) {
    if (actions[j].kind != ActionKind::WeightGrad || ran[j])
      continue;
    auto it = saved.find({actions[j].stage, actions[j].microbatch});
    if (it == saved.end() || !it->second.inputGradDone)
      return std::nullopt;
    return j;
  }
  return std::nullopt;
}

void Executor::runAction(const Action &a, const StepData &data, ActionTiming &t) {
  t = ActionTiming{sinceStart(), 0, 0};
  actionComputeMs = 0;
  try {
    switch (a.kind) {
    case ActionKind::Forward:
      forward(a.stage, a.microbatch, data);
      break;
    case ActionKind::Backward:
      backward(a.stage, a.microbatch);
      break;
    case ActionKind::InputGrad:
      inputGrad(a.stage, a.microbatch);
      break;
    case ActionKind::WeightGrad:
      weightGrad(a.stage, a.microbatch);
      break;
    }
  } catch (const TransportError &) {
    throw;
  } catch (const std::exception &e) {
    throw std::runtime_error("stage " + std::to_string(a.stage) + ", action " + a.str() + ": " +
                             ppc::errorSummary(e));
  }
  t.endMs = sinceStart();
  t.computeMs = actionComputeMs;
}

void Executor::run(const std::vector<Action> &actions, const StepData &data, int step,
                   std::chrono::steady_clock::time_point stepStart) {
  outputs.clear();
  lossTotal = at::Tensor();
  nonFiniteOutputs.clear();
  transfers.clear();
  start = stepStart;
  stepPrefix = std::to_string(step) + "|";
  timings.assign(actions.size(), ActionTiming{});
  std::vector<bool> ran(actions.size(), false);
  bool splitBackward = std::any_of(actions.begin(), actions.end(), [](const Action &a) {
    return a.kind == ActionKind::WeightGrad;
  });
  // Per stage, the backward actions (B or W) still to run this step.
  std::map<int, int> gradientsToCome;
  for (const Action &a : actions)
    if (a.kind == ActionKind::Backward || a.kind == ActionKind::WeightGrad)
      ++gradientsToCome[a.stage];
  auto runOne = [&](size_t i) {
    runAction(actions[i], data, timings[i]);
    ran[i] = true;
    const Action &a = actions[i];
    bool final = (a.kind == ActionKind::Backward || a.kind == ActionKind::WeightGrad) &&
                 --gradientsToCome[a.stage] == 0;
    if (final && onGradientsFinal)
      onGradientsFinal(a.stage, step);
  };
  for (size_t i = 0; i < actions.size(); ++i) {
    if (ran[i])
      continue;
    while (fillWaits && splitBackward && !inputsArrived(actions[i])) {
      std::optional<size_t> w = readyWeightGrad(actions, i, ran);
      if (!w)
        break;
      runOne(*w);
    }
    runOne(i);
  }
}
