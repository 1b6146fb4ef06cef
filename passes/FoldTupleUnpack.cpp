//===- passes/FoldTupleUnpack.cpp - Unpacking what was just packed --------===//
//
// See FoldTupleUnpack.h.
//
//===----------------------------------------------------------------------===//
#include "passes/FoldTupleUnpack.h"

using namespace ppc;

namespace {

/// The pack `op` unpacks, when it unpacks one element for element.
const Op *packUnpackedBy(const Op &op) {
  if (op.kind != "prim::TupleUnpack" || op.inputs.size() != 1)
    return nullptr;
  const Op *pack = op.inputs[0]->def;
  if (!pack || pack->kind != "prim::TupleConstruct" || pack->hasBlocks ||
      pack->inputs.size() != op.results.size())
    return nullptr;
  return pack;
}

} // namespace

unsigned ppc::foldTupleUnpack(Graph &g) {
  unsigned folded = 0;
  for (const auto &op : g.ops()) {
    const Op *pack = packUnpackedBy(*op);
    if (!pack)
      continue;
    for (size_t i = 0; i < op->results.size(); ++i)
      g.replaceAllUsesWith(op->results[i], pack->inputs[i]);
    ++folded;
  }
  if (folded)
    g.removeDeadOps();
  return folded;
}
