//===- runtime/SplitBackward.cpp - Input-grad and weight-grad passes ------===//
//
// I runs the nodes that lead to an input leaf (the engine runs exactly what
// its requested outputs need), computing at each of them only the outputs
// toward other such nodes and toward the one-dimensional parameters they feed
// directly (biases, norms' scales: reductions, cheapest while their inputs are
// hot; I adds them to .grad itself). A node of that part with an edge into
// the rest of the parameter side is a frontier node: a pre-hook keeps the
// gradients it received. W then runs each frontier node again from those
// gradients with every edge I served cut, so it computes only the weight-side
// outputs (the weight GEMMs), and then the parameter-only part, accumulating
// into .grad as B does. Nothing is computed twice; W also starts from any root
// that never reaches an input (all of B, for a stage whose inputs need no
// gradient).
//
//===----------------------------------------------------------------------===//
#include "runtime/SplitBackward.h"

#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <unordered_map>

using namespace ppc::rt;
using torch::autograd::Edge;
using torch::autograd::Node;

struct ppc::rt::WeightFrontier {
  struct Entry {
    std::shared_ptr<Node> node;
    std::vector<size_t> servedByI;           // edges to cut before W
    torch::autograd::variable_list received; // kept by the pre-hook in I
    torch::autograd::FunctionPreHook *hook = nullptr;
  };
  std::vector<Entry> nodes;
  std::vector<Edge> roots; // roots outside the input part
  std::vector<at::Tensor> rootGrads;
};

namespace {

/// The node a gradient of `t` enters (its grad_fn or grad accumulator).
Edge edgeOf(const at::Tensor &t) {
  if (t.grad_fn())
    return {t.grad_fn(), uint32_t(t.output_nr())};
  auto acc = torch::autograd::impl::try_get_grad_accumulator(t);
  return acc ? Edge(acc, 0) : Edge();
}

/// The autograd graph below some roots with dense node numbers, so that the
/// analysis I runs per microbatch costs a few hashes, not one per question.
struct GradGraph {
  std::vector<Node *> nodes;                 // children before parents
  std::vector<std::vector<int>> children;    // per node, per edge; -1: none
  std::unordered_map<const Node *, int> ids; // node -> index in `nodes`

  explicit GradGraph(const std::vector<Edge> &roots);

  int id(const Edge &e) const {
    auto it = e.function ? ids.find(e.function.get()) : ids.end();
    return it == ids.end() ? -1 : it->second;
  }
  /// Per node: can it reach a node marked in `targets` (itself included)?
  std::vector<char> reaching(std::vector<char> targets) const {
    for (size_t n = 0; n < nodes.size(); ++n)
      for (int c : children[n])
        targets[n] |= c >= 0 && targets[c];
    return targets;
  }
  std::vector<char> marks(const std::vector<at::Tensor> &tensors) const {
    std::vector<char> out(nodes.size(), 0);
    for (const at::Tensor &t : tensors)
      if (int i = id(edgeOf(t)); i >= 0)
        out[i] = 1;
    return out;
  }
};

GradGraph::GradGraph(const std::vector<Edge> &roots) {
  // Iterative DFS, post-order. A node counts as seen once pushed, so the stack
  // must always be one path: a root pushed before an earlier root's graph is
  // done could be met below it, skipped as seen, and numbered after its
  // parents (a stage output that later ops of the stage also read).
  std::vector<std::pair<Node *, size_t>> stack;
  auto visit = [&](const Edge &e) {
    if (e.function && ids.try_emplace(e.function.get(), -1).second)
      stack.push_back({e.function.get(), 0});
  };
  for (const Edge &root : roots) {
    visit(root);
    while (!stack.empty()) {
      Node *n = stack.back().first;
      size_t next = stack.back().second++;
      if (next < n->num_outputs()) {
        visit(n->next_edge(next));
        continue;
      }
      ids[n] = int(nodes.size());
      nodes.push_back(n);
      stack.pop_back();
    }
  }
  children.resize(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const Edge &e : nodes[i]->next_edges())
      children[i].push_back(id(e));
}

/// Parameters of at most one dimension whose grad accumulator is fed only by
/// nodes of `inputPart`: I computes their gradients.
std::vector<at::Tensor> vectorParamsOf(const GradGraph &g, const std::vector<char> &inputPart,
                                       const std::vector<at::Tensor> &params) {
  std::vector<char> fedOnlyByInputPart(g.nodes.size(), 1);
  for (size_t n = 0; n < g.nodes.size(); ++n)
    for (int c : g.children[n])
      if (c >= 0 && !inputPart[n])
        fedOnlyByInputPart[c] = 0;
  std::vector<at::Tensor> out;
  for (const at::Tensor &p : params)
    if (int i = g.id(edgeOf(p)); p.dim() <= 1 && i >= 0 && fedOnlyByInputPart[i])
      out.push_back(p);
  return out;
}

/// What AccumulateGrad does, for gradients I computed itself.
void accumulate(const at::Tensor &param, const at::Tensor &grad) {
  if (!grad.defined())
    return;
  at::Tensor &slot = param.mutable_grad();
  if (slot.defined())
    slot.add_(grad);
  else // a copy: `grad` may share storage with a gradient W still needs
    slot = grad.detach().clone();
}

/// Keeps the gradients a frontier node receives in I.
class KeepReceived : public torch::autograd::FunctionPreHook {
public:
  explicit KeepReceived(torch::autograd::variable_list &slot) : slot(slot) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list &grads) override {
    slot = grads;
    return grads;
  }

private:
  torch::autograd::variable_list &slot;
};

/// Frees what a node of the input part saved once I has run it: W never runs
/// it again, and memory freed as I goes is what the next nodes reuse, warm, as
/// in a fused backward (retain_graph would keep all of it until W).
class ReleaseSaved : public torch::autograd::FunctionPostHook {
public:
  explicit ReleaseSaved(Node &node) : node(node) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list &outputs,
                                            const torch::autograd::variable_list &) override {
    node.release_variables();
    return outputs;
  }

private:
  Node &node;
};

} // namespace

std::vector<at::Tensor> ppc::rt::backwardInput(const std::vector<at::Tensor> &roots,
                                               const std::vector<at::Tensor> &rootGrads,
                                               const std::vector<at::Tensor> &leaves,
                                               const std::vector<at::Tensor> &params,
                                               std::shared_ptr<WeightFrontier> &frontier) {
  frontier = std::make_shared<WeightFrontier>();
  std::vector<Edge> rootEdges;
  for (const at::Tensor &r : roots)
    rootEdges.push_back(edgeOf(r));
  if (leaves.empty()) { // nothing to send back: W is the whole backward
    frontier->roots = rootEdges;
    frontier->rootGrads = rootGrads;
    return {};
  }
  GradGraph graph(rootEdges);
  std::vector<char> inputPart = graph.reaching(graph.marks(leaves));
  std::vector<at::Tensor> vectorParams = vectorParamsOf(graph, inputPart, params);
  std::vector<char> servedParams = graph.marks(vectorParams), weightParams = graph.marks(params);
  for (size_t i = 0; i < weightParams.size(); ++i)
    weightParams[i] &= !servedParams[i];
  std::vector<char> toWeights = graph.reaching(weightParams);
  for (size_t i = 0; i < rootEdges.size(); ++i)
    if (int r = graph.id(rootEdges[i]); r >= 0 && !inputPart[r]) {
      frontier->roots.push_back(rootEdges[i]);
      frontier->rootGrads.push_back(rootGrads[i]);
    }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!inputPart[n])
      continue;
    WeightFrontier::Entry entry;
    bool weightSide = false;
    for (size_t i = 0; i < graph.children[n].size(); ++i) {
      int c = graph.children[n][i];
      if (c >= 0 && (inputPart[c] || servedParams[c]))
        entry.servedByI.push_back(i);
      else
        weightSide |= c >= 0 && toWeights[c];
    }
    Node *node = graph.nodes[n];
    if (weightSide) {
      entry.node = node->getptr();
      frontier->nodes.push_back(std::move(entry));
    } else {
      node->add_post_hook(std::make_unique<ReleaseSaved>(*node));
    }
  }
  for (WeightFrontier::Entry &e : frontier->nodes) {
    auto hook = std::make_unique<KeepReceived>(e.received);
    e.hook = hook.get();
    e.node->add_pre_hook(std::move(hook));
  }
  std::vector<at::Tensor> wanted = leaves;
  wanted.insert(wanted.end(), vectorParams.begin(), vectorParams.end());
  std::vector<at::Tensor> grads =
      torch::autograd::grad(roots, wanted, rootGrads, /*retain_graph=*/true,
                            /*create_graph=*/false, /*allow_unused=*/true);
  for (WeightFrontier::Entry &e : frontier->nodes) {
    auto &hooks = e.node->pre_hooks();
    hooks.erase(std::remove_if(hooks.begin(), hooks.end(),
                               [&](const auto &h) { return h.get() == e.hook; }),
                hooks.end());
  }
  for (size_t i = 0; i < vectorParams.size(); ++i)
    accumulate(vectorParams[i], grads[leaves.size() + i]);
  grads.resize(leaves.size());
  return grads;
}

void ppc::rt::backwardWeight(WeightFrontier &frontier) {
  std::vector<Edge> roots = frontier.roots;
  std::vector<at::Tensor> grads = frontier.rootGrads;
  for (WeightFrontier::Entry &e : frontier.nodes) {
    // Not set_next_edge, which would renumber a node that has parents; a
    // topological number above what is left stays a valid bound.
    for (size_t i : e.servedByI)
      e.node->next_edges()[i] = Edge();
    for (size_t j = 0; j < e.received.size(); ++j)
      if (e.received[j].defined()) {
        roots.emplace_back(e.node, uint32_t(j));
        grads.push_back(e.received[j]);
      }
  }
  if (roots.empty())
    return;
  // With the input side cut, everything reachable is on the parameter side.
  torch::autograd::Engine::get_default_engine().execute(roots, grads, /*keep_graph=*/false,
                                                        /*create_graph=*/false,
                                                        /*accumulate_grad=*/true);
}
