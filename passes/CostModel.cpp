//===- passes/CostModel.cpp - Analytic per-op costs -----------------------===//
//
// A multiply-add counts as two FLOPs. Contractions take their sizes from the
// inputs (matmul broadcasts batch dimensions); per-element ops from their
// first tensor result. Bytes are the tensors an op reads (parameters
// included) plus those it writes, except for views and bookkeeping, which
// move nothing, and embedding, which reads only the rows it gathers.
//
//===----------------------------------------------------------------------===//
#include "passes/CostModel.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>
#include <optional>

using namespace ppc;

namespace {

using Shape = llvm::ArrayRef<int64_t>;

enum class OpClass { Free, Copy, Contraction, Embedding, Reduction, PerElement };

const llvm::StringSet<> &freeOps() {
  static const llvm::StringSet<> ops = {
      "aten::view",           "aten::reshape",   "aten::permute",
      "aten::transpose",      "aten::t",         "aten::size",
      "aten::slice",          "aten::select",    "aten::split",
      "aten::chunk",          "aten::unsqueeze", "aten::squeeze",
      "aten::expand",         "aten::expand_as", "aten::flatten",
      "aten::unflatten",      "aten::narrow",    "aten::detach",
      "aten::alias",          "aten::dropout",   "aten::Int",
      "aten::Float",          "aten::Bool",      "aten::ScalarImplicit",
      "aten::numel",          "aten::dim",       "aten::len",
      "aten::__getitem__",    "aten::unbind",    "aten::view_as",
      "aten::feature_dropout"};
  return ops;
}

const llvm::StringSet<> &copyOps() {
  static const llvm::StringSet<> ops = {
      "aten::cat",   "aten::stack",        "aten::clone",  "aten::contiguous",     "aten::to",
      "aten::copy_", "aten::index_select", "aten::gather", "aten::index",          "aten::repeat",
      "aten::flip",  "aten::roll",         "aten::pad",    "aten::constant_pad_nd"};
  return ops;
}

const llvm::StringSet<> &reductionOps() {
  static const llvm::StringSet<> ops = {
      "aten::sum",    "aten::mean",   "aten::max",       "aten::min",
      "aten::amax",   "aten::amin",   "aten::prod",      "aten::var",
      "aten::std",    "aten::norm",   "aten::all",       "aten::any",
      "aten::argmax", "aten::argmin", "aten::logsumexp", "aten::linalg_vector_norm"};
  return ops;
}

bool hasTensorResult(const Op &op) {
  return llvm::any_of(op.results, [](const Value *r) { return r->isTensor(); });
}

OpClass classify(const Op &op) {
  llvm::StringRef kind(op.kind);
  if (kind.startswith("prim::") || freeOps().contains(kind) || !hasTensorResult(op))
    return OpClass::Free;
  if (copyOps().contains(kind))
    return OpClass::Copy;
  if (kind == "aten::embedding")
    return OpClass::Embedding;
  if (reductionOps().contains(kind))
    return OpClass::Reduction;
  if (kind == "aten::linear" || kind == "aten::addmm" || kind == "aten::matmul" ||
      kind == "aten::mm" || kind == "aten::bmm" || kind == "aten::baddbmm" ||
      kind.contains("conv") || kind == "aten::scaled_dot_product_attention")
    return OpClass::Contraction;
  return OpClass::PerElement;
}

/// A tensor value's info, taking a parameter's from the parameter table when
/// the value itself has none.
const TensorInfo *infoOf(const Graph &g, const Value *v) {
  if (v->tensor.hasShape || v->kind != ValueKind::Param)
    return &v->tensor;
  const ParamInfo *p = g.paramInfo(v->name);
  return p ? &p->tensor : &v->tensor;
}

std::optional<Shape> shapeOf(const Graph &g, const Op &op, unsigned inputNo) {
  if (inputNo >= op.inputs.size())
    return std::nullopt;
  const TensorInfo *t = infoOf(g, op.inputs[inputNo]);
  if (!t->hasShape || t->numel() < 0)
    return std::nullopt;
  return Shape(t->shape);
}

double product(Shape s) {
  double n = 1;
  for (int64_t d : s)
    n *= double(d);
  return n;
}

std::optional<double> resultElems(const Op &op) {
  for (const Value *r : op.results)
    if (r->isTensor() && r->tensor.numel() >= 0)
      return double(r->tensor.numel());
  return std::nullopt;
}

/// torch.matmul: 1-D operands are promoted; batch dimensions broadcast.
std::optional<double> matmulFlops(std::optional<Shape> a, std::optional<Shape> b) {
  if (!a || !b || a->empty() || b->empty())
    return std::nullopt;
  double m = a->size() > 1 ? double((*a)[a->size() - 2]) : 1;
  double k = double(a->back());
  double n = b->size() > 1 ? double(b->back()) : 1;
  Shape batchA = a->drop_back(std::min<size_t>(2, a->size()));
  Shape batchB = b->drop_back(std::min<size_t>(2, b->size()));
  double batch = 1;
  for (size_t i = 0; i < std::max(batchA.size(), batchB.size()); ++i) {
    int64_t da = i < batchA.size() ? batchA[batchA.size() - 1 - i] : 1;
    int64_t db = i < batchB.size() ? batchB[batchB.size() - 1 - i] : 1;
    batch *= double(std::max(da, db));
  }
  return 2 * batch * m * k * n;
}

bool isTransposedConv(const Op &op) {
  if (llvm::StringRef(op.kind).contains("conv_transpose"))
    return true;
  if (op.kind != "aten::_convolution" && op.kind != "aten::convolution")
    return false;
  if (op.inputs.size() <= 6)
    return false;
  llvm::StringRef flag = op.inputs[6]->literal;
  return flag == "1" || flag == "True" || flag == "true";
}

/// 2 * output elements * Cin/groups * kernel for a convolution whose weight
/// is [Cout, Cin/groups, k...]; a transposed one swaps input and output.
std::optional<double> convFlops(const Graph &g, const Op &op) {
  std::optional<Shape> w = shapeOf(g, op, 1);
  if (!w || w->size() < 2)
    return std::nullopt;
  double perOutput = product(w->drop_front());
  if (isTransposedConv(op)) {
    std::optional<Shape> x = shapeOf(g, op, 0);
    return x ? std::optional<double>(2 * product(*x) * perOutput) : std::nullopt;
  }
  std::optional<double> out = resultElems(op);
  return out ? std::optional<double>(2 * *out * perOutput) : std::nullopt;
}

/// q [..., L, E], k [..., S, E], v [..., S, Ev]: two matmuls and a softmax.
std::optional<double> attentionFlops(const Graph &g, const Op &op) {
  std::optional<Shape> q = shapeOf(g, op, 0), k = shapeOf(g, op, 1), v = shapeOf(g, op, 2);
  if (!q || !k || !v || q->size() < 2 || k->size() < 2 || v->empty())
    return std::nullopt;
  double batch = product(q->drop_back(2));
  double l = double((*q)[q->size() - 2]), e = double(q->back());
  double s = double((*k)[k->size() - 2]), ev = double(v->back());
  return batch * l * s * (2 * e + 2 * ev + 5);
}

std::optional<double> contractionFlops(const Graph &g, const Op &op) {
  llvm::StringRef kind(op.kind);
  if (kind == "aten::linear") { // x [..., K], weight [N, K]
    std::optional<Shape> x = shapeOf(g, op, 0), w = shapeOf(g, op, 1);
    if (!x || !w || w->empty())
      return std::nullopt;
    double n = w->size() > 1 ? double(w->front()) : 1;
    return 2 * product(*x) * n;
  }
  if (kind == "aten::addmm" || kind == "aten::baddbmm")
    return matmulFlops(shapeOf(g, op, 1), shapeOf(g, op, 2));
  if (kind == "aten::matmul" || kind == "aten::mm" || kind == "aten::bmm")
    return matmulFlops(shapeOf(g, op, 0), shapeOf(g, op, 1));
  if (kind == "aten::scaled_dot_product_attention")
    return attentionFlops(g, op);
  return convFlops(g, op);
}

double perElementFlops(llvm::StringRef kind) {
  if (kind.contains("softmax"))
    return 5;
  if (kind.contains("_norm") || kind == "aten::rms_norm")
    return 8;
  return 1;
}

std::optional<double> flopsOf(const Graph &g, const Op &op, OpClass cls) {
  switch (cls) {
  case OpClass::Free:
  case OpClass::Copy:
    return 0.0;
  case OpClass::Embedding:
    return resultElems(op) ? std::optional<double>(0.0) : std::nullopt;
  case OpClass::Contraction:
    return contractionFlops(g, op);
  case OpClass::Reduction: {
    std::optional<Shape> in = shapeOf(g, op, 0);
    return in ? std::optional<double>(product(*in)) : std::nullopt;
  }
  case OpClass::PerElement: {
    std::optional<double> out = resultElems(op);
    return out ? std::optional<double>(perElementFlops(op.kind) * *out) : std::nullopt;
  }
  }
  return std::nullopt;
}

double knownBytes(const TensorInfo &t) { return double(std::max<int64_t>(0, t.bytes())); }

double bytesOf(const Graph &g, const Op &op, OpClass cls) {
  if (cls == OpClass::Free)
    return 0;
  double written = 0;
  for (const Value *r : op.results)
    if (r->isTensor())
      written += knownBytes(r->tensor);
  if (cls == OpClass::Embedding) // the indices, and each gathered row read once
    return knownBytes(*infoOf(g, op.inputs.size() > 1 ? op.inputs[1] : op.inputs[0])) + 2 * written;
  double read = 0;
  for (const Value *in : op.inputs)
    if (in->isTensor())
      read += knownBytes(*infoOf(g, in));
  return read + written;
}

} // namespace

double Roofline::timeMs(double flops, double bytes) const {
  return std::max(flops / (peakGflops * 1e9), bytes / (bandwidthGBps * 1e9)) * 1e3;
}

// A tuple or list is sent with every tensor inside it; the IR knows those
// tensors as the inputs of the op that built the container, so the bytes are
// summed through prim::TupleConstruct and prim::ListConstruct (nested too).
int64_t ppc::transferBytes(const Value &v) {
  const Op *def = v.def;
  if (!v.isTensor() && def &&
      (def->kind == "prim::TupleConstruct" || def->kind == "prim::ListConstruct")) {
    int64_t sum = 0;
    for (const Value *element : def->inputs)
      sum += transferBytes(*element);
    return std::max<int64_t>(sum, 8);
  }
  int64_t b = v.isTensor() ? v.tensor.bytes() : -1;
  return b > 0 ? b : 8;
}

CostSummary ppc::annotateAnalyticCosts(Graph &g, const Roofline &roofline) {
  CostSummary summary;
  for (const auto &op : g.ops()) {
    op->cost = OpCost();
    OpClass cls = classify(*op);
    std::optional<double> flops = flopsOf(g, *op, cls);
    if (op->hasBlocks || !flops) {
      ++summary.unknown;
      continue;
    }
    op->cost.flops = *flops;
    op->cost.bytes = bytesOf(g, *op, cls);
    op->cost.timeMs = roofline.timeMs(op->cost.flops, op->cost.bytes);
    ++summary.known;
    summary.flops += op->cost.flops;
    summary.bytes += op->cost.bytes;
  }
  return summary;
}
