//===- frontend/AnnotateShapes.cpp - Shapes from example inputs -----------===//
//
// Runs a copy of the inlined forward once on example inputs with every
// top-level value returned, and records the dtype and shape of each tensor
// in the IR. Traced models already carry recorded tensor types; this gives
// exact shapes for the given inputs, for scripted models too.
//
//===----------------------------------------------------------------------===//
#include "frontend/ModelImpl.h"

#include "ir/Diagnostics.h"
#include "support/ErrorText.h"
#include "support/TorchSave.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <fstream>
#include <iterator>

using namespace ppc;
using JitValue = torch::jit::Value;

std::vector<c10::IValue> ppc::readInputsFile(const std::string &path) {
  try {
    return readSavedValues(path);
  } catch (const std::exception &e) {
    throw CompileError(std::string("inputs: ") + e.what(),
                       "write it with torch.save({'inputs': (x, ...)}, path)");
  }
}

static void recordShape(const at::Tensor &t, TensorInfo &info) {
  info.dtype = dtypeName(t.scalar_type());
  info.hasShape = true;
  info.shape.assign(t.sizes().begin(), t.sizes().end());
}

void Model::annotateShapes(const std::string &ioFile) {
  ModelImpl &impl = *p;
  std::vector<c10::IValue> inputs = readInputsFile(ioFile);
  if (inputs.size() + 1 != impl.inlined->inputs().size())
    throw CompileError("example inputs: the model takes " +
                       std::to_string(impl.inlined->inputs().size() - 1) + " inputs, '" + ioFile +
                       "' has " + std::to_string(inputs.size()));
  std::shared_ptr<torch::jit::Graph> probe = impl.inlined->copy();
  // Graph::copy keeps node order, so nodes pair up by position.
  std::unordered_map<const void *, Op *> opOfNode;
  for (const auto &op : impl.ir.ops())
    opOfNode[op->handle] = op.get();
  std::vector<Value *> observed;
  std::vector<JitValue *> returned;
  auto oldNode = impl.inlined->nodes().begin();
  for (torch::jit::Node *n : probe->nodes()) {
    auto it = opOfNode.find(*oldNode++);
    if (it == opOfNode.end())
      continue;
    for (size_t i = 0; i < it->second->results.size(); ++i) {
      observed.push_back(it->second->results[i]);
      returned.push_back(n->output(i));
    }
  }
  probe->eraseOutput(0);
  probe->registerOutput(probe->insertNode(probe->createTuple(returned))->output());
  torch::jit::GraphFunction fn("ppc_shapes", probe, nullptr);
  inputs.insert(inputs.begin(), impl.module._ivalue());
  c10::IValue result;
  try {
    torch::NoGradGuard noGrad;
    // One run: the executor's profiling and optimizing passes on a graph that
    // returns every value would cost more than the run itself.
    torch::jit::GraphOptimizerEnabledGuard interpretOnly(false);
    result = fn(inputs);
  } catch (const std::exception &e) {
    throw CompileError("the model failed on the example inputs: " + errorSummary(e),
                       "check their count, dtypes and shapes");
  }
  const auto &values = result.toTupleRef().elements();
  for (size_t i = 0; i < observed.size(); ++i) {
    impl.exampleValues[observed[i]] = values[i];
    if (values[i].isTensor())
      recordShape(values[i].toTensor(), observed[i]->tensor);
  }
  for (size_t i = 1; i < inputs.size(); ++i) {
    impl.exampleValues[impl.ir.inputs()[i - 1]] = inputs[i];
    if (inputs[i].isTensor())
      recordShape(inputs[i].toTensor(), impl.ir.inputs()[i - 1]->tensor);
  }
}
