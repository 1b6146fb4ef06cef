//===- passes/HoistOutputTuples.h - Build output tuples early ----*- C++ -*-===//
//
// Traced models build the tuples they return (HF GPT-2's past key/values: one
// (key, value) pair per layer, then a tuple of the pairs) in ops at the very
// end of the graph, so whatever stage holds the last op receives every
// element from the stage that computed it: 24 tensors a microbatch across a
// split at GPT-2's head, each its own message, and a gradient message back for
// each in training though none of them reaches the loss. This pass moves each
// prim::TupleConstruct that only feeds model outputs (directly or through
// other such tuples) to just after its latest operand, so it lands in the
// stage of its elements, which then returns it. The ops are pure; only their
// position changes. Run before split placement and region timing.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_HOISTOUTPUTTUPLES_H
#define PPC_PASSES_HOISTOUTPUTTUPLES_H

#include "ir/Graph.h"

namespace ppc {

/// Returns the number of ops moved.
unsigned hoistOutputTuples(Graph &g);

} // namespace ppc

#endif
