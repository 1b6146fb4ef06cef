//===- runtime/SplitBackward.cpp - Input-grad and weight-grad passes ------===//
//
// I runs the nodes that lead to an input leaf (the engine runs exactly what
// its requested outputs need), computing at each of them only the outputs
// toward other such nodes. A node of that part with an edge into the
// parameter-only part is a frontier node: a pre-hook keeps the gradients it
// received. W then runs each frontier node again from those gradients with
// its edges back into the input part cut (I is done with them), so it
// computes only the weight-side outputs, and then the parameter-only part,
// accumulating into .grad as B does. Nothing is computed twice; W also starts
// from any root that never reaches an input (all of B, for a stage whose
// inputs need no gradient).
//
//===----------------------------------------------------------------------===//
#include "runtime/SplitBackward.h"

#include <torch/csrc/autograd/engine.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <algorithm>
#include <unordered_set>

using namespace ppc::rt;
using torch::autograd::Edge;
using torch::autograd::Node;

struct ppc::rt::WeightFrontier {
  struct Entry {
    std::shared_ptr<Node> node;
    std::vector<size_t> inputSide;           // edges to cut before W
    torch::autograd::variable_list received; // kept by the pre-hook in I
    torch::autograd::FunctionPreHook *hook = nullptr;
  };
  std::vector<Entry> nodes;
  std::vector<Edge> roots; // roots outside the input part
  std::vector<at::Tensor> rootGrads;
};

namespace {

using NodeSet = std::unordered_set<const Node *>;

/// The node a gradient of `t` enters (its grad_fn or grad accumulator).
Edge edgeOf(const at::Tensor &t) {
  if (t.grad_fn())
    return {t.grad_fn(), uint32_t(t.output_nr())};
  auto acc = torch::autograd::impl::try_get_grad_accumulator(t);
  return acc ? Edge(acc, 0) : Edge();
}

/// Nodes reachable from `roots`, children before parents (iterative DFS).
std::vector<Node *> postOrder(const std::vector<Edge> &roots) {
  std::vector<Node *> order;
  NodeSet seen;
  std::vector<std::pair<Node *, size_t>> stack;
  auto visit = [&](const Edge &e) {
    if (e.function && seen.insert(e.function.get()).second)
      stack.push_back({e.function.get(), 0});
  };
  for (const Edge &e : roots)
    visit(e);
  while (!stack.empty()) {
    Node *n = stack.back().first;
    size_t next = stack.back().second++;
    if (next < n->num_outputs())
      visit(n->next_edge(next));
    else {
      order.push_back(n);
      stack.pop_back();
    }
  }
  return order;
}

/// Nodes of `order` from which a node of `targets` is reachable; with
/// `strict`, over at least one edge.
NodeSet reaching(const std::vector<Node *> &order, const NodeSet &targets, bool strict) {
  NodeSet out, viaEdge;
  for (Node *n : order) {
    bool r = false;
    for (const Edge &e : n->next_edges())
      r |= e.function && out.count(e.function.get());
    if (r)
      viaEdge.insert(n);
    if (r || targets.count(n))
      out.insert(n);
  }
  return strict ? viaEdge : out;
}

NodeSet nodesOf(const std::vector<at::Tensor> &tensors) {
  NodeSet nodes;
  for (const at::Tensor &t : tensors)
    if (Edge e = edgeOf(t); e.function)
      nodes.insert(e.function.get());
  return nodes;
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
  std::vector<Node *> order = postOrder(rootEdges);
  NodeSet toParams = reaching(order, nodesOf(params), false);
  NodeSet inputPart = reaching(order, nodesOf(leaves), false);
  for (size_t i = 0; i < rootEdges.size(); ++i)
    if (rootEdges[i].function && !inputPart.count(rootEdges[i].function.get())) {
      frontier->roots.push_back(rootEdges[i]);
      frontier->rootGrads.push_back(rootGrads[i]);
    }
  for (Node *n : order) {
    if (!inputPart.count(n))
      continue;
    WeightFrontier::Entry entry;
    bool weightSide = false;
    for (size_t i = 0; i < n->num_outputs(); ++i) {
      const Node *m = n->next_edge(i).function.get();
      if (m && inputPart.count(m))
        entry.inputSide.push_back(i);
      weightSide |= m && !inputPart.count(m) && toParams.count(m);
    }
    if (weightSide) {
      entry.node = n->getptr();
      frontier->nodes.push_back(std::move(entry));
    }
  }
  for (WeightFrontier::Entry &e : frontier->nodes) {
    auto hook = std::make_unique<KeepReceived>(e.received);
    e.hook = hook.get();
    e.node->add_pre_hook(std::move(hook));
  }
  std::vector<at::Tensor> grads =
      torch::autograd::grad(roots, leaves, rootGrads, /*retain_graph=*/true,
                            /*create_graph=*/false, /*allow_unused=*/true);
  for (WeightFrontier::Entry &e : frontier->nodes) {
    auto &hooks = e.node->pre_hooks();
    hooks.erase(std::remove_if(hooks.begin(), hooks.end(),
                               [&](const auto &h) { return h.get() == e.hook; }),
                hooks.end());
  }
  return grads;
}

void ppc::rt::backwardWeight(WeightFrontier &frontier) {
  std::vector<Edge> roots = frontier.roots;
  std::vector<at::Tensor> grads = frontier.rootGrads;
  for (WeightFrontier::Entry &e : frontier.nodes) {
    // Not set_next_edge, which would renumber a node that has parents; a
    // topological number above what is left stays a valid bound.
    for (size_t i : e.inputSide)
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
