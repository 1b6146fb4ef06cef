//===- frontend/ExportGraph.h - torch.export graph to TorchScript -*- C++ -*-===//
//
// Private to frontend/: turns the serialized graph of a torch.export program
// (torch/_export/serde/schema.py: nodes of ATen operator overloads, the graph
// signature) into a TorchScript graph over a module that already holds the
// program's parameters, buffers and lifted constants under their qualified
// names. Each node gets the module path of its innermost nn_module_stack
// entry, so the result is what inlineWithPaths makes of a TorchScript model.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_FRONTEND_EXPORTGRAPH_H
#define PPC_FRONTEND_EXPORTGRAPH_H

#include <nlohmann/json.hpp>
#include <torch/script.h>

#include <memory>

namespace ppc {

/// The forward graph of `graphModule` (model.json's "graph_module"), with
/// `self` of `module`'s type as its first input; CompileError naming the
/// node for constructs the IR cannot hold (higher-order ops, operators
/// LibTorch has no schema for, mutated buffers).
std::shared_ptr<torch::jit::Graph> buildExportGraph(const nlohmann::json &graphModule,
                                                    const torch::jit::Module &module);

/// The dtype of a serialized ScalarType code (schema.py); CompileError if
/// unknown.
c10::ScalarType exportScalarType(int64_t code);

/// The innermost module path of a node's serialized nn_module_stack
/// ("L__self__,,M;L__self__lin,lin,Linear" -> "lin"); nullopt when the node
/// has none.
std::optional<std::string> innermostModulePath(const std::string &stack);

/// Every module path a serialized nn_module_stack names, outermost first.
std::vector<std::string> modulePaths(const std::string &stack);

} // namespace ppc

#endif
