//===- runtime/Recompute.cpp - Re-running a stage's forward ---------------===//
//
// See Recompute.h. Generators are reached through the device-generic
// Context::defaultGenerator, so no CUDA header is needed; their states are
// read and written under each generator's own mutex, as torch.get_rng_state
// does. Which buffers a forward writes is learnt from its first run (values
// compared) and version counters, so only those are copied around a
// recomputation, not every mask and table a stage holds.
//
//===----------------------------------------------------------------------===//
#include "runtime/Recompute.h"

#include <ATen/Context.h>
#include <torch/csrc/jit/ir/ir.h>

#include <algorithm>
#include <mutex>

using namespace ppc::rt;

static at::Tensor stateOf(at::Generator gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

static void setState(at::Generator gen, const at::Tensor &state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

RngState ppc::rt::captureRng(c10::Device device) {
  RngState s;
  s.cpu = stateOf(at::globalContext().defaultGenerator(c10::Device(c10::kCPU)));
  if (device.is_cuda())
    s.device = stateOf(at::globalContext().defaultGenerator(device));
  return s;
}

void ppc::rt::restoreRng(const RngState &state, c10::Device device) {
  setState(at::globalContext().defaultGenerator(c10::Device(c10::kCPU)), state.cpu);
  if (device.is_cuda() && state.device.defined())
    setState(at::globalContext().defaultGenerator(device), state.device);
}

static bool blockDrawsRandom(const torch::jit::Block *block) {
  for (const torch::jit::Node *node : block->nodes()) {
    if (node->isNondeterministic())
      return true;
    for (const torch::jit::Block *inner : node->blocks())
      if (blockDrawsRandom(inner))
        return true;
  }
  return false;
}

bool ppc::rt::drawsRandomNumbers(const torch::jit::Module &module) {
  for (const torch::jit::Module &m : module.modules())
    for (const torch::jit::Method &method : m.get_methods())
      if (blockDrawsRandom(method.graph()->block()))
        return true;
  return false;
}

static std::vector<at::Tensor> buffersOf(const torch::jit::Module &module) {
  std::vector<at::Tensor> buffers;
  for (const at::Tensor &b : module.buffers())
    buffers.push_back(b);
  return buffers;
}

void BufferWrites::note(size_t index) {
  if (std::find(indices.begin(), indices.end(), index) == indices.end())
    indices.push_back(index);
}

void BufferWrites::observe(const torch::jit::Module &module, const std::function<void()> &forward) {
  std::vector<at::Tensor> buffers = buffersOf(module);
  std::vector<int64_t> versions;
  std::vector<at::Tensor> values;
  for (const at::Tensor &b : buffers) {
    versions.push_back(b.defined() ? int64_t(b._version()) : 0);
    if (!comparedValues)
      values.push_back(b.defined() ? b.detach().clone() : b);
  }
  forward();
  for (size_t i = 0; i < buffers.size(); ++i) {
    if (!buffers[i].defined())
      continue;
    if (int64_t(buffers[i]._version()) != versions[i] ||
        (!comparedValues && !torch::equal(buffers[i], values[i])))
      note(i);
  }
  comparedValues = true;
}

void ppc::rt::replay(const torch::jit::Module &module, const std::vector<size_t> &written,
                     const RngState &state, c10::Device device, const std::function<void()> &work) {
  std::vector<at::Tensor> buffers = buffersOf(module);
  std::vector<at::Tensor> before;
  {
    at::NoGradGuard noGrad;
    for (size_t i : written)
      before.push_back(buffers.at(i).clone());
  }
  if (!state.cpu.defined()) {
    work();
  } else {
    RngState now = captureRng(device);
    restoreRng(state, device);
    work();
    restoreRng(now, device);
  }
  // The recomputed graph saved these buffers (BatchNorm's running statistics)
  // and checks their version counters in the backward: write the old values
  // back through an alias with a counter of its own. That backward does not
  // read their values (training mode uses the batch's statistics).
  at::NoGradGuard noGrad;
  for (size_t k = 0; k < written.size(); ++k) {
    const at::Tensor &b = buffers[written[k]];
    at::from_blob(b.data_ptr(), b.sizes(), b.strides(), b.options()).copy_(before[k]);
  }
}
