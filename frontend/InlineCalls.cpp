//===- frontend/InlineCalls.cpp - Inlining that keeps module paths --------===//
//
// Stock torch::jit::Inline records only the last attribute name of each call
// level, so ModuleList/ModuleDict containers vanish from paths ("0.attn"
// instead of "layers.0.attn"). Here every prim::CallMethod is inlined one
// level at a time: before inlining, the callee's full path is read from the
// prim::GetAttr chain that produced its `self`, which after earlier inlining
// is always rooted at the graph's own `self`. Calls nested in prim::If and
// prim::Loop bodies are inlined too, so those bodies hold only plain ops.
//
//===----------------------------------------------------------------------===//
#include "frontend/ModelImpl.h"

#include "ir/Diagnostics.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/remove_mutation.h>

using namespace ppc;
using torch::jit::Block;
using torch::jit::Node;

namespace {

// A node's module path lives in its scope, which LibTorch's own passes and
// Node::cloneFrom carry along (a side table keyed by Node* would go stale when
// a pass frees a node and allocates another at the same address).
const char *const kRootScope = "<root>";

void assignPath(Node *n, const std::string &path) {
  auto scope = c10::make_intrusive<torch::jit::Scope>();
  n->setScope(scope->push(c10::Symbol::scope(path.empty() ? kRootScope : path)));
  for (Block *b : n->blocks())
    for (Node *inner : b->nodes())
      assignPath(inner, path);
}

bool hasPath(Node *n) { return n->scope() && !n->scope()->isBlank(); }

/// Nodes that LibTorch passes created inherit the path of the node before.
void fillMissingPaths(Block *b, const std::string &outer) {
  std::string previous = outer;
  for (Node *n : b->nodes()) {
    if (!hasPath(n))
      assignPath(n, previous);
    previous = nodePath(n);
    for (Block *sub : n->blocks())
      fillMissingPaths(sub, previous);
  }
}

/// Inlines the call `n`; returns the first inlined node (or the node after).
Node *inlineOneCall(Node *n) {
  torch::jit::GraphFunction *callee = nullptr;
  std::shared_ptr<torch::jit::Graph> body;
  std::string path;
  if (n->kind() == c10::prim::CallMethod) {
    auto cls = n->input(0)->type()->expect<c10::ClassType>();
    callee = &torch::jit::toGraphFunction(cls->getMethod(n->s(c10::attr::name)));
    body = callee->graph(); // un-inlined: one level only
    auto chain = attributeChain(n->input(0));
    if (!chain)
      throw CompileError("a method call on a module that is not an attribute of the model",
                         "ppc needs module calls of the form self.a.b(...)");
    path = joinPath(*chain);
  } else {
    auto fnType = n->input(0)->type()->expect<c10::FunctionType>();
    callee = torch::jit::tryToGraphFunction(*fnType->function());
    if (!callee)
      return n->next();
    body = callee->optimized_graph(); // a free function has no module paths inside
    path = nodePath(n);
    n->removeInput(0); // the function constant, as torch::jit::Inline does
  }
  Node *before = n->prev();
  Node *after = n->next();
  torch::jit::inlineCallTo(n, callee, body.get());
  for (Node *m = before->next(); m != after; m = m->next())
    assignPath(m, path);
  return before->next();
}

bool isCall(Node *n) {
  return n->kind() == c10::prim::CallMethod || n->kind() == c10::prim::CallFunction;
}

void inlineBlock(Block *b) {
  for (Node *n = b->nodes().front(); n != b->return_node();) {
    if (isCall(n)) {
      n = inlineOneCall(n); // revisit what was inlined
      continue;
    }
    for (Block *sub : n->blocks())
      inlineBlock(sub);
    n = n->next();
  }
}

/// Replaces each prim::If on a constant condition by the branch it always
/// takes. nn.Dropout's `inplace` and similar module constants otherwise keep
/// a branch that never runs, whose in-place op makes the If look like it
/// writes its input: a split before it then needs a copy of that input,
/// which a tuple cannot have (a scripted ViT's attention output).
void foldConstantIfs(Block *b) {
  for (auto it = b->nodes().begin(); it != b->nodes().end();) {
    Node *n = *it++;
    for (Block *sub : n->blocks())
      foldConstantIfs(sub);
    std::optional<bool> cond =
        n->kind() == c10::prim::If ? torch::jit::constant_as<bool>(n->input(0)) : std::nullopt;
    if (!cond)
      continue;
    Block *taken = n->blocks()[*cond ? 0 : 1];
    for (auto inner = taken->nodes().begin(); inner != taken->nodes().end();)
      (*inner++)->moveBefore(n); // keeps each node's path
    for (size_t i = 0; i < n->outputs().size(); ++i)
      n->output(i)->replaceAllUsesWith(taken->outputs()[i]);
    n->destroy();
  }
}

} // namespace

std::string ppc::nodePath(torch::jit::Node *n) {
  if (!hasPath(n))
    return "";
  std::string path = n->scope()->name().toUnqualString();
  return path == kRootScope ? "" : path;
}

void ppc::setNodePath(torch::jit::Node *n, const std::string &path) { assignPath(n, path); }

void ppc::inlineWithPaths(torch::jit::Graph &g) {
  for (Node *n : g.nodes())
    assignPath(n, "");
  inlineBlock(g.block());
  foldConstantIfs(g.block());
  std::shared_ptr<torch::jit::Graph> shared(&g, [](torch::jit::Graph *) {});
  torch::jit::EliminateDeadCode(shared);
  // Mutation turned into dataflow cannot cross a stage boundary wrongly.
  torch::jit::RemoveListMutation(shared);
  torch::jit::RemoveTensorMutation(shared);
  torch::jit::EliminateDeadCode(shared);
  fillMissingPaths(g.block(), "");
}
