//===- passes/PartitionPlan.h - The plan `ppc --print-plan` shows -*- C++ -*-===//
//
// A table of a partition before anything runs: per stage its module range,
// predicted compute and communication time, parameter bytes, activation
// bytes and the bytes it sends on, then the imbalance (slowest / mean).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_PARTITIONPLAN_H
#define PPC_PASSES_PARTITIONPLAN_H

#include "passes/Partitioner.h"

#include <string>

namespace ppc {

std::string formatPlan(const Graph &g, const std::vector<unsigned> &positions,
                       const PartitionOptions &opts);

} // namespace ppc

#endif
