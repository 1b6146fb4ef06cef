//===- passes/CostModel.cpp - Analytic per-op costs -----------------------===//
//
// FLOP formulas count a multiply-add as two FLOPs. Bytes are the tensors an
// op reads (its tensor inputs, parameters included) plus those it writes.
//
//===----------------------------------------------------------------------===//
#include "passes/CostModel.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>

using namespace ppc;

namespace {

int64_t dim(const Value *v, int i) {
  const auto &s = v->tensor.shape;
  int n = int(s.size());
  if (!v->tensor.hasShape || n == 0)
    return -1;
  int k = i < 0 ? n + i : i;
  return k >= 0 && k < n ? s[k] : -1;
}

int64_t outputElems(const Op &op) {
  for (const Value *r : op.results)
    if (r->isTensor() && r->tensor.numel() >= 0)
      return r->tensor.numel();
  return -1;
}

/// 2 * output elements * reduction length, for matmul-like ops.
double contractionFlops(const Op &op) {
  llvm::StringRef k(op.kind);
  int64_t out = outputElems(op);
  if (out < 0 || op.inputs.size() < 2)
    return 0;
  int64_t reduce = -1;
  if (k == "aten::linear")
    reduce = dim(op.inputs[1], -1); // weight [out, in]
  else if (k == "aten::addmm")
    reduce = op.inputs.size() > 2 ? dim(op.inputs[1], -1) : -1;
  else if (k == "aten::matmul" || k == "aten::mm" || k == "aten::bmm")
    reduce = dim(op.inputs[0], -1);
  else if (k.contains("conv")) { // weight [Cout, Cin/groups, kh, kw]
    const Value *w = op.inputs[1];
    reduce = 1;
    for (size_t i = 1; w->tensor.hasShape && i < w->tensor.shape.size(); ++i)
      reduce *= w->tensor.shape[i];
    if (!w->tensor.hasShape)
      reduce = -1;
  }
  return reduce > 0 ? 2.0 * double(out) * double(reduce) : 0;
}

double perElementFlops(llvm::StringRef kind) {
  if (kind.contains("softmax"))
    return 5;
  if (kind.contains("_norm") || kind == "aten::gelu" || kind == "aten::tanh")
    return 8;
  static const llvm::StringSet<> free = {"aten::view",      "aten::reshape",       "aten::permute",
                                         "aten::transpose", "aten::contiguous",    "aten::size",
                                         "aten::slice",     "aten::select",        "aten::split",
                                         "aten::unsqueeze", "aten::squeeze",       "aten::expand",
                                         "aten::to",        "aten::embedding",     "aten::dropout",
                                         "aten::Int",       "aten::ScalarImplicit"};
  if (kind.startswith("prim::") || free.contains(kind))
    return 0;
  return 1;
}

double tensorBytes(const Value *v) {
  int64_t b = v->isTensor() ? v->tensor.bytes() : 0;
  return b > 0 ? double(b) : 0;
}

} // namespace

int64_t ppc::transferBytes(const Value &v) {
  int64_t b = v.isTensor() ? v.tensor.bytes() : -1;
  return b > 0 ? b : 8;
}

unsigned ppc::annotateAnalyticCosts(Graph &g, const Roofline &roofline) {
  unsigned known = 0;
  for (const auto &op : g.ops()) {
    double flops = contractionFlops(*op);
    if (flops == 0) {
      int64_t out = outputElems(*op);
      flops = out > 0 ? perElementFlops(op->kind) * double(out) : 0;
    }
    double bytes = 0;
    for (const Value *in : op->inputs)
      bytes += tensorBytes(in);
    for (const Value *r : op->results)
      bytes += tensorBytes(r);
    if (op->kind == "aten::embedding") // reads only the rows it gathers
      bytes = tensorBytes(op->results[0]) * 2;
    else if (perElementFlops(op->kind) == 0 && flops == 0)
      bytes = 0; // views and bookkeeping move no data
    op->cost.flops = flops;
    op->cost.bytes = bytes;
    double seconds =
        std::max(flops / (roofline.peakGflops * 1e9), bytes / (roofline.bandwidthGBps * 1e9));
    op->cost.timeMs = seconds * 1e3;
    known += flops > 0 || bytes > 0;
  }
  return known;
}
