//===- passes/CostModel.h - Analytic per-op costs ---------------*- C++ -*-===//
//
// Fills Op::cost with analytic FLOPs and bytes moved from the IR's tensor
// shapes (set from example inputs), and a roofline time estimate
// max(flops / peak, bytes / bandwidth). Covers the ops that dominate models:
// linear/addmm/matmul/bmm, convolutions, embedding, softmax, normalisations,
// elementwise ops and reductions. Ops whose shapes are unknown cost nothing.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_COSTMODEL_H
#define PPC_PASSES_COSTMODEL_H

#include "ir/Graph.h"

namespace ppc {

struct Roofline {
  double peakGflops = 50; // one CPU core with AVX2, roughly
  double bandwidthGBps = 10;
};

/// Returns the number of ops with a known cost.
unsigned annotateAnalyticCosts(Graph &g, const Roofline &roofline = {});

/// Bytes of a value when sent: tensor bytes, 8 for scalars and unknown shapes.
int64_t transferBytes(const Value &v);

} // namespace ppc

#endif
