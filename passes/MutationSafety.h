//===- passes/MutationSafety.h - In-place writes across stages --*- C++ -*-===//
//
// LibTorch's RemoveListMutation/RemoveTensorMutation already turned what they
// could into dataflow; this pass makes the remaining in-place writes safe to
// split. When an op in stage s writes a value (or a view of it) that stage s
// received from an earlier stage or the model inputs, that value may also be
// held by other stages, so stage s first copies it (a `ppc::clone` op) and
// every later reader after the write gets the copy from stage s: it sees the
// mutated state, as in the unsplit program, and no other stage's value
// changes under it. Where the write reaches a value through aliases that
// cross stages otherwise, the split is refused (CompileError) rather than
// computing wrong results. Needs op stages; run before cross-stage analysis.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_MUTATIONSAFETY_H
#define PPC_PASSES_MUTATIONSAFETY_H

#include "ir/Graph.h"
#include "ir/OpNames.h" // kCloneOp, the copies this pass inserts

namespace ppc {

/// Returns the number of copies inserted.
unsigned makeMutationSafe(Graph &g);

} // namespace ppc

#endif
