//===- passes/PartitionPlan.h - The plan `ppc --print-plan` shows -*- C++ -*-===//
//
// A table of a partition before anything runs: per stage its module range
// (first and last module path of its ops), predicted time (compute plus
// communication), parameters (count and bytes), activation bytes, memory
// (parameters plus activations of the microbatches in flight) and the bytes
// live across its end; then the imbalance, slowest / mean stage weight.
// Deterministic, for golden tests and for comparing partitions.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_PARTITIONPLAN_H
#define PPC_PASSES_PARTITIONPLAN_H

#include "passes/Partitioner.h"

#include <string>

namespace ppc {

/// The plan of splitting `g` at `positions` (sorted op indices).
std::string formatPlan(const Graph &g, const std::vector<unsigned> &positions,
                       const PartitionOptions &opts);

} // namespace ppc

#endif
