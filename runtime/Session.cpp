//===- runtime/Session.cpp - A pipeline driven step by step ---------------===//
//
// See Session.h. Each local rank has one thread for the session's life,
// because what a rank sets up is per thread: the device stream, and the
// graph executor's per-op autograd that split backward (I and W) needs from
// the first forward on. Every call is one task run on all of them; the
// caller waits. A rank's training and inference executors hold the same
// stage modules (the parameters a caller sees are the ones both run), and a
// call's transport keys carry a number of their own, so no message of one
// call meets another's.
//
//===----------------------------------------------------------------------===//
#include "runtime/Session.h"

#include "runtime/Executor.h"
#include "runtime/Microbatch.h"
#include "runtime/Training.h"
#include "support/ErrorText.h"

#include <ATen/Parallel.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/torch.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

using namespace ppc::rt;
namespace sched = ppc::sched;
namespace fs = std::filesystem;

namespace ppc::rt {

/// One rank of this process: its thread, transport, executors and the
/// outcome of the task it ran last.
struct SessionRank {
  SessionRank(int index, c10::Device device) : index(index), placement(device) {}
  ~SessionRank() { stop(); }

  void start(bool splitBackward, bool oneThread);
  void post(std::function<void(SessionRank &)> work);
  void wait();
  void stop();

  const int index;
  Placement placement;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Executor> train, infer;
  std::unique_ptr<Trainer> trainer; // for its tied-gradient sum only
  double loss = 0;
  c10::IValue result;
  std::string cause, waited; // the last task's failure: its own, or a wait another ended

private:
  void loop(bool splitBackward, bool oneThread);
  void runTask(const std::function<void(SessionRank &)> &work);

  std::thread thread;
  std::mutex mutex;
  std::condition_variable changed;
  std::function<void(SessionRank &)> task;
  bool busy = false, quit = false;
};

struct SessionState {
  Manifest manifest;
  sched::Schedule training, inference;
  std::shared_ptr<ThreadHub> hub;
  std::vector<std::unique_ptr<SessionRank>> ranks; // the local ones
  int nextCall = 0;
  std::string failure; // set once a rank failed: the session is over
};

} // namespace ppc::rt

void SessionRank::start(bool splitBackward, bool oneThread) {
  thread = std::thread([this, splitBackward, oneThread] { loop(splitBackward, oneThread); });
}

void SessionRank::loop(bool splitBackward, bool oneThread) {
  if (oneThread) // thread ranks share the cores, as pprun's do
    at::set_num_threads(1);
  // Split backward needs per-op autograd nodes from the first forward on
  // (see rankMain in Pipeline.cpp); the setting is per thread.
  torch::jit::GraphOptimizerEnabledGuard perOpAutograd(!splitBackward);
  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    changed.wait(lock, [&] { return task || quit; });
    if (quit)
      return;
    auto work = std::move(task);
    task = nullptr;
    lock.unlock();
    runTask(work);
    lock.lock();
    busy = false;
    changed.notify_all();
  }
}

void SessionRank::runTask(const std::function<void(SessionRank &)> &work) {
  cause.clear();
  waited.clear();
  std::string self = "rank " + std::to_string(index) + ": ";
  try {
    work(*this);
  } catch (const TransportError &e) {
    waited = self + ppc::errorSummary(e);
  } catch (const std::exception &e) {
    cause = self + ppc::errorSummary(e);
  }
  if (transport && (!cause.empty() || !waited.empty()))
    transport->abort(cause.empty() ? waited : cause);
}

void SessionRank::post(std::function<void(SessionRank &)> work) {
  std::lock_guard<std::mutex> lock(mutex);
  task = std::move(work);
  busy = true;
  changed.notify_all();
}

void SessionRank::wait() {
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [&] { return !busy; });
}

void SessionRank::stop() {
  if (!thread.joinable())
    return;
  {
    std::lock_guard<std::mutex> lock(mutex);
    quit = true;
    changed.notify_all();
  }
  thread.join();
}

namespace {

/// Bad arguments are the caller's (ValueError in Python) and leave the session usable.
void checkInputs(const Manifest &m, const std::vector<c10::IValue> &inputs) {
  if (inputs.size() != m.inputs.size())
    throw std::invalid_argument("the pipeline takes " + std::to_string(m.inputs.size()) +
                                " inputs, got " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i)
    if (m.inputs[i].type == "Tensor" && !inputs[i].isTensor())
      throw std::invalid_argument("input " + std::to_string(i) + " ('" + m.inputs[i].name +
                                  "') must be a tensor");
  if (std::none_of(inputs.begin(), inputs.end(), [](const c10::IValue &v) { return v.isTensor(); }))
    throw std::invalid_argument("the pipeline needs a tensor input to take the batch size from");
}

StepData makeStepData(const Manifest &m, const std::vector<c10::IValue> &inputs,
                      const at::Tensor *targets, int microbatches) {
  checkInputs(m, inputs);
  int64_t batch = batchSize(inputs);
  if (microbatches > batch)
    throw std::invalid_argument(std::to_string(microbatches) + " microbatches need a batch of " +
                                "at least as many rows, got " + std::to_string(batch));
  StepData data;
  data.inputs = splitMicrobatches(inputs, batch, microbatches);
  for (const auto &mb : data.inputs)
    data.shares.push_back(double(batchSize(mb)) / batch);
  if (!targets)
    return data;
  if (!targets->defined() || targets->dim() == 0 || targets->size(0) != batch)
    throw std::invalid_argument("target must be a tensor with the batch size " +
                                std::to_string(batch) + " in dim 0");
  for (auto &mb : splitMicrobatches({*targets}, batch, microbatches))
    data.targets.push_back(mb[0].toTensor());
  return data;
}

std::string callKey(int call, const std::string &what) {
  return "S|" + std::to_string(call) + "|" + what;
}

/// `root` sends `value` to every other process rank, which returns it.
c10::IValue broadcast(Transport &t, int root, const std::string &key, const c10::IValue &value) {
  if (t.rank() != root)
    return t.recv(key, root);
  for (int r = 0; r < t.worldSize(); ++r)
    if (r != root)
      t.send(key, r, value);
  return value;
}

/// Sets the parameter at dotted `path` of `module`; the module's graph
/// reads it by attribute, so the next forward uses `value` itself.
void setModuleParameter(torch::jit::Module module, const std::string &path,
                        const at::Tensor &value) {
  std::string rest = path;
  for (size_t dot; (dot = rest.find('.')) != std::string::npos; rest = rest.substr(dot + 1)) {
    std::string name = rest.substr(0, dot);
    if (!module.hasattr(name) || !module.attr(name).isModule())
      throw std::invalid_argument("no submodule '" + name + "' on the way to '" + path + "'");
    module = module.attr(name).toModule();
  }
  if (!module.hasattr(rest) || !module.type()->hasAttribute(rest) ||
      !module.type()->is_parameter(module.type()->getAttributeSlot(rest)))
    throw std::invalid_argument("'" + path + "' is not a parameter of its stage");
  at::Tensor old = module.attr(rest).toTensor();
  if (old.sizes() != value.sizes() || old.scalar_type() != value.scalar_type())
    throw std::invalid_argument("'" + path + "' must keep its shape and dtype");
  module.setattr(rest, value);
}

} // namespace

Session::Session(const SessionOptions &o) : opts(o), state(std::make_unique<SessionState>()) {
  if (o.seed >= 0)
    torch::manual_seed(uint64_t(o.seed));
  if (o.microbatches < 1)
    throw std::invalid_argument("microbatches must be at least 1");
  state->manifest = readManifest(o.dir);
  const Manifest &m = state->manifest;
  int stages = m.numStages();
  int ranks = o.worldSize > 0 ? o.worldSize : stages;
  if (stages % ranks != 0)
    throw std::invalid_argument(std::to_string(stages) + " stages cannot be placed on " +
                                std::to_string(ranks) + " ranks: S must be a multiple of N");
  for (const StageSpec &s : m.stages)
    if (!fs::exists(o.dir + "/" + s.file))
      throw std::runtime_error("stage file '" + o.dir + "/" + s.file +
                               "' is missing; recompile with ppc");
  state->training =
      sched::loadSchedule(o.schedule, stages, ranks, o.microbatches, /*training=*/true);
  state->inference =
      sched::loadSchedule(o.schedule, stages, ranks, o.microbatches, /*training=*/false);
  makeLoss(o.loss); // a bad loss is reported before any rank starts
  bool processRank = o.worldSize > 0;
  c10::Device device = parseDevice(o.device, processRank ? o.localRank : 0);
  auto timeout = std::chrono::milliseconds(int64_t(o.timeoutSec * 1000));
  if (!processRank)
    state->hub = makeThreadHub(ranks, timeout);
  for (int r = processRank ? o.rank : 0; r < (processRank ? o.rank + 1 : ranks); ++r) {
    const auto &actions = state->training.ranks[r];
    bool split = std::any_of(actions.begin(), actions.end(), [](const sched::Action &a) {
      return a.kind == sched::ActionKind::InputGrad || a.kind == sched::ActionKind::WeightGrad;
    });
    state->ranks.push_back(std::make_unique<SessionRank>(r, device));
    state->ranks.back()->start(split, /*oneThread=*/!processRank);
  }
  onEveryRank([&](SessionRank &r) {
    r.placement.bindThread(); // before the transport, which orders its transfers on this stream
    if (processRank)
      r.transport =
          placeTransport(makeGlooTransport(o.rank, ranks, o.masterAddr, o.masterPort, timeout),
                         r.placement, /*byReference=*/false);
    else
      r.transport = placeTransport(makeThreadTransport(state->hub, r.index), r.placement,
                                   /*byReference=*/true);
    r.train = std::make_unique<Executor>(m, *r.transport, true, makeLoss(o.loss), r.placement);
    r.infer = std::make_unique<Executor>(m, *r.transport, false, LossSpec{}, r.placement);
    r.infer->stages() = r.train->stages(); // the same modules, so the same parameters
    r.trainer = std::make_unique<Trainer>(*r.train, m, *r.transport, "sgd", 0.0);
  });
}

Session::~Session() = default;

const Manifest &Session::manifest() const { return state->manifest; }

int Session::worldSize() const { return state->training.numRanks; }

void Session::onEveryRank(const std::function<void(SessionRank &)> &task) {
  if (!state->failure.empty())
    throw std::runtime_error("the pipeline failed earlier (" + state->failure +
                             "); make a new one");
  for (auto &r : state->ranks)
    r->post(task);
  for (auto &r : state->ranks)
    r->wait();
  // A rank that failed on its own is the cause; ranks it stopped only waited.
  for (auto member : {&SessionRank::cause, &SessionRank::waited})
    for (auto &r : state->ranks)
      if (!((*r).*member).empty()) {
        state->failure = (*r).*member;
        throw std::runtime_error(state->failure);
      }
}

SessionRank &Session::holderOf(int stage) {
  for (auto &r : state->ranks)
    if (r->train && r->train->stages().count(stage))
      return *r;
  throw std::invalid_argument("stage " + std::to_string(stage) + " is not held by this process");
}

/// Before a step, a tied group's copies but the first lose the gradient the
/// last sum gave them, so that gradients accumulated over several steps are
/// summed once, as a single shared parameter's would be.
static void clearTiedCopies(const Manifest &m, Executor &ex) {
  for (const TiedGroup &group : m.tied)
    for (size_t k = 1; k < group.stages.size(); ++k) {
      auto it = ex.stages().find(group.stages[k]);
      if (it == ex.stages().end())
        continue;
      for (const auto &p : it->second.named_parameters(true))
        if (std::find(group.parameters.begin(), group.parameters.end(), p.name) !=
            group.parameters.end())
          p.value.mutable_grad() = at::Tensor();
    }
}

double Session::step(const std::vector<c10::IValue> &inputs, const at::Tensor &targets) {
  const Manifest &m = state->manifest;
  StepData data = makeStepData(m, inputs, &targets, opts.microbatches);
  int call = state->nextCall++;
  int lossRank = rankOfStage(m.outputs.at(0).stage, worldSize());
  onEveryRank([&](SessionRank &r) {
    clearTiedCopies(m, *r.train);
    r.train->run(state->training.ranks[r.index], data, call, std::chrono::steady_clock::now());
    r.trainer->sumTiedGradients(call);
    r.placement.synchronize();
    r.loss = r.index == lossRank ? r.train->lossSum() : 0.0;
    if (isProcessRank())
      r.loss = broadcast(*r.transport, lossRank, callKey(call, "loss"), r.loss).toDouble();
  });
  for (auto &r : state->ranks)
    if (isProcessRank() || r->index == lossRank)
      return r->loss;
  return 0.0;
}

c10::IValue Session::forward(const std::vector<c10::IValue> &inputs) {
  const Manifest &m = state->manifest;
  StepData data = makeStepData(m, inputs, nullptr, opts.microbatches);
  int call = state->nextCall++;
  int mbs = opts.microbatches;
  // The joined output `o` on its owner; under torchrun sent to every rank.
  auto joined = [&](SessionRank &r, size_t o) {
    std::vector<c10::IValue> parts;
    for (int mb = 0; mb < mbs; ++mb)
      parts.push_back(r.infer->outputs.at({m.outputs[o].value, mb}));
    return r.placement.toHost(joinMicrobatches(parts));
  };
  onEveryRank([&](SessionRank &r) {
    for (auto &[index, module] : r.infer->stages())
      module.eval();
    r.infer->run(state->inference.ranks[r.index], data, call, std::chrono::steady_clock::now());
    for (auto &[index, module] : r.infer->stages())
      module.train();
    r.placement.synchronize();
    if (!isProcessRank())
      return;
    std::vector<c10::IValue> outs;
    for (size_t o = 0; o < m.outputs.size(); ++o) {
      int owner = rankOfStage(m.outputs[o].stage, worldSize());
      outs.push_back(broadcast(*r.transport, owner, callKey(call, "out" + std::to_string(o)),
                               owner == r.index ? joined(r, o) : c10::IValue()));
    }
    r.result = c10::ivalue::Tuple::create(std::move(outs));
  });
  if (isProcessRank())
    return std::exchange(state->ranks.front()->result, c10::IValue());
  std::vector<c10::IValue> outs;
  for (size_t o = 0; o < m.outputs.size(); ++o)
    outs.push_back(joined(*state->ranks.at(m.outputs[o].stage % worldSize()), o));
  return c10::ivalue::Tuple::create(std::move(outs));
}

std::vector<StageParameter> Session::parameters() {
  const Manifest &m = state->manifest;
  std::vector<StageParameter> params;
  std::map<size_t, bool> groupCounted;
  for (int s = 0; s < m.numStages(); ++s) {
    auto holder = std::find_if(state->ranks.begin(), state->ranks.end(), [&](const auto &r) {
      return r->train && r->train->stages().count(s);
    });
    if (holder == state->ranks.end())
      continue;
    for (const auto &p : (*holder)->train->stages().at(s).named_parameters(true)) {
      StageParameter param{s, p.name, p.value, true};
      for (size_t g = 0; g < m.tied.size(); ++g) {
        const TiedGroup &group = m.tied[g];
        if (std::find(group.parameters.begin(), group.parameters.end(), p.name) ==
            group.parameters.end())
          continue;
        // The first copy on the group's first holder stands for the group.
        param.counted = s == group.stages.front() && !groupCounted[g];
        groupCounted[g] = groupCounted[g] || param.counted;
      }
      params.push_back(std::move(param));
    }
  }
  return params;
}

void Session::setParameter(int stage, const std::string &name, const at::Tensor &value) {
  SessionRank &r = holderOf(stage);
  setModuleParameter(r.train->stages().at(stage), name, value);
}

at::Tensor Session::reduce(const at::Tensor &value, bool max) {
  if (!isProcessRank())
    return value; // every stage is in this process
  int call = state->nextCall++;
  at::Tensor total;
  onEveryRank([&](SessionRank &r) {
    Transport &t = *r.transport;
    std::string key = callKey(call, "reduce");
    if (t.rank() != 0) {
      t.send(key, 0, value.cpu());
      total = t.recv(key + "|total", 0).toTensor();
      return;
    }
    total = value.cpu();
    for (int k = 1; k < t.worldSize(); ++k) {
      at::Tensor part = t.recv(key, k).toTensor();
      total = max ? at::maximum(total, part) : total + part;
    }
    broadcast(t, 0, key + "|total", total);
  });
  return total.to(value.device());
}

void Session::save(const std::string &dir) {
  const Manifest &m = state->manifest;
  int call = state->nextCall++;
  fs::create_directories(dir);
  onEveryRank([&](SessionRank &r) {
    for (auto &[index, module] : r.train->stages()) {
      std::string path = dir + "/" + m.stages[index].file;
      // Saved from host memory, so the stage loads on any machine.
      (r.placement.isCuda() ? module.deepcopy(at::Device(at::kCPU)) : module).save(path);
    }
    if (r.index == 0)
      for (const char *name : {"pipeline.json", "ir.txt"}) {
        fs::path from = fs::path(m.dir) / name, to = fs::path(dir) / name;
        std::error_code ec;
        if (fs::exists(from) && !fs::equivalent(from, to, ec))
          fs::copy_file(from, to, fs::copy_options::overwrite_existing);
      }
    if (!isProcessRank())
      return;
    // Every rank returns once all files are written.
    Transport &t = *r.transport;
    std::string key = callKey(call, "saved");
    if (t.rank() != 0) {
      t.send(key, 0, c10::IValue());
    } else {
      for (int k = 1; k < t.worldSize(); ++k)
        t.recv(key, k);
    }
    broadcast(t, 0, key + "|go", c10::IValue());
  });
}
