//===- frontend/ModelImpl.h - The LibTorch side of a Model ------*- C++ -*-===//
//
// Private to frontend/, codegen/ and driver/: the loaded module, its inlined
// forward graph, and the helpers that map between LibTorch and ppc IR.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_FRONTEND_MODELIMPL_H
#define PPC_FRONTEND_MODELIMPL_H

#include "frontend/Frontend.h"

#include <torch/script.h>

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ppc {

struct ModelImpl {
  std::string path;
  torch::jit::Module module;
  std::shared_ptr<torch::jit::Graph> inlined;
  Graph ir;
  /// The value of every IR value on the example inputs (annotateShapes).
  std::unordered_map<const Value *, c10::IValue> exampleValues;
};

/// The attribute names from the graph's `self` to `v` through prim::GetAttr
/// ({"layers", "1", "attn"}), or nullopt if `v` is not such a chain.
std::optional<std::vector<std::string>> attributeChain(torch::jit::Value *v);

/// A class-name atom: TorchScript rejects atoms that start with a digit.
std::string classAtom(const std::string &name);

/// "a.b.c" from {"a", "b", "c"}.
std::string joinPath(const std::vector<std::string> &parts);

/// "float32", "int64", ... for a scalar type.
std::string dtypeName(c10::ScalarType t);

/// True for a value whose type is a module (an nn.Module instance).
bool isModuleValue(const torch::jit::Value *v);

/// Inlines every method and function call in `g`, one level at a time,
/// recording each node's module path; then removes list and tensor mutation
/// where LibTorch can prove it safe.
void inlineWithPaths(torch::jit::Graph &g);

/// The module path inlineWithPaths recorded for `n` ("" for the root).
std::string nodePath(torch::jit::Node *n);

/// Records `path` as the module path of `n` and of the nodes in its blocks
/// (for frontends that know each node's module, e.g. torch.export's).
void setNodePath(torch::jit::Node *n, const std::string &path);

/// Reads an inputs file (see support/TorchSave.h); CompileError if it cannot.
std::vector<c10::IValue> readInputsFile(const std::string &path);

/// Lowers the inlined graph into `impl.ir`.
void lowerToIR(ModelImpl &impl);

} // namespace ppc

#endif
