//===- passes/AssignParameters.h - Parameter ownership ---------*- C++ -*-===//
//
// Gives each stage exactly the parameters and buffers its ops read, and
// records for every tied group (names sharing one tensor, tied by the user,
// or one parameter read by several stages) the stages that hold a copy, so
// the runtime can sum their gradients.
// Refuses an op that writes a parameter another stage also reads, since the
// copies would diverge. Needs op stages and stage interfaces.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_ASSIGNPARAMETERS_H
#define PPC_PASSES_ASSIGNPARAMETERS_H

#include "ir/Graph.h"

namespace ppc {

/// Fills StageInterface::parameters and Tie::stages; returns the number of
/// parameters held by more than one stage.
unsigned assignParameters(Graph &g);

} // namespace ppc

#endif
