//===- passes/FoldTupleUnpack.h - Unpacking what was just packed -*- C++ -*-===//
//
// Inlining one call level at a time keeps each module's return: a block
// packs its results into a tuple, its caller unpacks them. Readers of the
// unpacked elements then depend on the pack, which sits at the end of the
// callee, so a split just after the callee's last op still sends the
// elements in a tuple built there, and a tuple a traced model returns
// (GPT-2's `transformer` returns its hidden state with every layer's key and
// value) is only complete where the whole module is. This pass makes every
// reader of prim::TupleUnpack(prim::TupleConstruct(xs)) read xs themselves
// and removes the pair once nothing reads it. The elements are the very
// objects the unpack would return, so in-place writes reach the same values.
// Run before hoist-output-tuples and split placement.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_FOLDTUPLEUNPACK_H
#define PPC_PASSES_FOLDTUPLEUNPACK_H

#include "ir/Graph.h"

namespace ppc {

/// Returns the number of unpacks folded.
unsigned foldTupleUnpack(Graph &g);

} // namespace ppc

#endif
