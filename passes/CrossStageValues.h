//===- passes/CrossStageValues.h - Values that cross stages ----*- C++ -*-===//
//
// Finds every value defined in one stage (or a model input) and used by a
// later stage, records its consumers (a skip edge goes straight from producer
// to each consumer, never relayed), and derives each stage's interface: its
// inputs (model inputs first, then values in program order) and outputs.
// Parameters and constants never cross: they are cloned. Needs op stages.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_CROSSSTAGEVALUES_H
#define PPC_PASSES_CROSSSTAGEVALUES_H

#include "ir/Graph.h"

namespace ppc {

/// Fills g.crossStage and g.stageInterfaces; returns the number of cross-stage values.
unsigned findCrossStageValues(Graph &g);

} // namespace ppc

#endif
