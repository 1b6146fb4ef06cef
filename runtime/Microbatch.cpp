//===- runtime/Microbatch.cpp - Splitting and joining batches -------------===//
#include "runtime/Microbatch.h"

#include "support/TorchSave.h"

#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/torch.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

using namespace ppc::rt;

int64_t ppc::rt::batchSize(const std::vector<c10::IValue> &inputs) {
  for (const c10::IValue &v : inputs)
    if (v.isTensor() && v.toTensor().dim() > 0)
      return v.toTensor().size(0);
  throw std::runtime_error("no input is a tensor with a batch dimension");
}

std::vector<std::vector<c10::IValue>>
ppc::rt::splitMicrobatches(const std::vector<c10::IValue> &inputs, int64_t batch,
                           int microbatches) {
  if (microbatches < 1 || microbatches > batch)
    throw std::runtime_error("--microbatches " + std::to_string(microbatches) +
                             " must be between 1 and the batch size " + std::to_string(batch));
  std::vector<std::vector<c10::IValue>> out(microbatches);
  for (const c10::IValue &v : inputs) {
    bool batched = v.isTensor() && v.toTensor().dim() > 0 && v.toTensor().size(0) == batch;
    std::vector<at::Tensor> chunks;
    if (batched)
      chunks = torch::tensor_split(v.toTensor(), microbatches, 0);
    for (int m = 0; m < microbatches; ++m)
      out[m].push_back(batched ? c10::IValue(chunks[m].contiguous()) : v);
  }
  return out;
}

c10::IValue ppc::rt::joinMicrobatches(const std::vector<c10::IValue> &parts) {
  const c10::IValue &first = parts.front();
  if (parts.size() == 1)
    return first;
  if (first.isTensor()) {
    std::vector<at::Tensor> ts;
    for (const c10::IValue &p : parts)
      ts.push_back(p.toTensor());
    if (first.toTensor().dim() == 0)
      return first; // a scalar is the same for every microbatch
    return torch::cat(ts, 0);
  }
  if (first.isTuple() || first.isList()) {
    size_t n = first.isTuple() ? first.toTupleRef().elements().size() : first.toListRef().size();
    std::vector<c10::IValue> joined;
    for (size_t i = 0; i < n; ++i) {
      std::vector<c10::IValue> column;
      for (const c10::IValue &p : parts)
        column.push_back(p.isTuple() ? p.toTupleRef().elements()[i] : p.toListRef()[i]);
      joined.push_back(joinMicrobatches(column));
    }
    return c10::ivalue::Tuple::create(std::move(joined));
  }
  return first; // ints and other scalars: taken from microbatch 0
}

std::vector<at::Tensor> ppc::rt::tensorLeaves(const c10::IValue &v) {
  std::vector<at::Tensor> out;
  if (v.isTensor())
    out.push_back(v.toTensor());
  else if (v.isTuple())
    for (const auto &e : v.toTupleRef().elements())
      for (auto &t : tensorLeaves(e))
        out.push_back(t);
  else if (v.isList())
    for (const auto &e : v.toListRef())
      for (auto &t : tensorLeaves(e))
        out.push_back(t);
  return out;
}

c10::IValue ppc::rt::mapTensors(const c10::IValue &v,
                                const std::function<at::Tensor(const at::Tensor &)> &fn) {
  if (v.isTensor())
    return fn(v.toTensor());
  if (v.isTuple()) {
    std::vector<c10::IValue> items;
    for (const auto &e : v.toTupleRef().elements())
      items.push_back(mapTensors(e, fn));
    return c10::ivalue::Tuple::create(std::move(items));
  }
  if (v.isTensorList()) {
    c10::List<at::Tensor> list;
    for (const at::Tensor &t : v.toTensorList().vec())
      list.push_back(fn(t));
    return list;
  }
  return v;
}

c10::IValue ppc::rt::asGradLeaves(const c10::IValue &v, std::vector<at::Tensor> &leaves) {
  return mapTensors(v, [&](const at::Tensor &t) {
    at::Tensor leaf = t.defined() && t.is_floating_point() ? t.detach().requires_grad_(true) : t;
    leaves.push_back(leaf); // aligned with tensorLeaves(v); only float leaves require grad
    return leaf;
  });
}

c10::IValue ppc::rt::detached(const c10::IValue &v) {
  return mapTensors(v, [](const at::Tensor &t) { return t.defined() ? t.detach() : t; });
}
