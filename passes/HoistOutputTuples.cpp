//===- passes/HoistOutputTuples.cpp - Build output tuples early -----------===//
//
// See HoistOutputTuples.h. Last to first, a tuple is hoistable when every
// user of its result is a hoistable tuple and it has a user or is a model
// output; first to last, each moves after the latest op defining one of its
// operands, so a tuple of tuples follows the ones it packs.
//
//===----------------------------------------------------------------------===//
#include "passes/HoistOutputTuples.h"

#include "llvm/ADT/DenseSet.h"

using namespace ppc;

namespace {

bool isTupleConstruct(const Op &op) {
  return op.kind == "prim::TupleConstruct" && op.results.size() == 1 && !op.hasBlocks &&
         !op.writes();
}

/// The tuples that feed only model outputs, possibly through each other.
llvm::DenseSet<const Op *> outputOnlyTuples(const Graph &g) {
  llvm::DenseSet<const Op *> hoistable;
  for (size_t i = g.ops().size(); i-- > 0;) {
    const Op &op = *g.ops()[i];
    if (!isTupleConstruct(op))
      continue;
    const Value &result = *op.results[0];
    bool feedsOutputsOnly =
        llvm::all_of(result.users, [&](const Op *user) { return hoistable.contains(user); });
    if (feedsOutputsOnly && (result.isModelOutput || !result.users.empty()))
      hoistable.insert(&op);
  }
  return hoistable;
}

/// The latest op defining an operand of `op`, or null when none is an op.
Op *latestOperandDef(const Op &op) {
  Op *latest = nullptr;
  for (const Value *in : op.inputs)
    if (in->def && (!latest || in->def->index > latest->index))
      latest = in->def;
  return latest;
}

} // namespace

unsigned ppc::hoistOutputTuples(Graph &g) {
  llvm::DenseSet<const Op *> hoistable = outputOnlyTuples(g);
  std::vector<Op *> inOrder;
  for (const auto &op : g.ops())
    if (hoistable.contains(op.get()))
      inOrder.push_back(op.get());
  unsigned moved = 0;
  for (Op *op : inOrder) {
    Op *after = latestOperandDef(*op);
    if (!after || after->index + 1 >= op->index)
      continue; // no op operand, or already right after it
    g.moveOpAfter(op, after);
    ++moved;
  }
  return moved;
}
