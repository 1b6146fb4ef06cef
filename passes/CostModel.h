//===- passes/CostModel.h - Analytic per-op costs ---------------*- C++ -*-===//
//
// Fills Op::cost with analytic FLOPs and bytes moved, computed from the
// tensor shapes and dtypes of the op's values (known from example inputs or
// traced types), and a roofline time max(flops / peak, bytes / bandwidth) so
// that the partitioner has one time per op. Covers the ops that dominate
// models: linear/addmm/matmul/mm/bmm, convolutions, scaled dot-product
// attention, embedding, softmax, normalisations, elementwise ops and
// reductions; views and bookkeeping cost nothing. An op whose shapes are
// unknown (or with control-flow blocks, whose bodies it cannot see) costs
// nothing and is counted as unknown. Needs no other pass.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_COSTMODEL_H
#define PPC_PASSES_COSTMODEL_H

#include "ir/Graph.h"

namespace ppc {

/// Peak rates of the machine a stage runs on. The defaults are one CPU core
/// with AVX2 and its share of DRAM bandwidth, roughly.
struct Roofline {
  double peakGflops = 50;
  double bandwidthGBps = 10;
  /// max(flops / peak, bytes / bandwidth) in milliseconds.
  double timeMs(double flops, double bytes) const;
};

/// What annotateAnalyticCosts could and could not count.
struct CostSummary {
  unsigned known = 0;   // ops with a cost (zero for views and bookkeeping)
  unsigned unknown = 0; // ops that would cost something but lack shapes
  double flops = 0;
  double bytes = 0;
};

/// Sets cost.flops, cost.bytes and cost.timeMs of every op.
CostSummary annotateAnalyticCosts(Graph &g, const Roofline &roofline = {});

/// Bytes of a value when sent between stages: its tensor bytes, the bytes of
/// every element of a tuple or list built in the graph, or 8 for a scalar,
/// None, a container of unknown contents or a tensor of unknown shape.
int64_t transferBytes(const Value &v);

} // namespace ppc

#endif
