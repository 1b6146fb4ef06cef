//===- passes/PartitionPlan.cpp - The plan `ppc --print-plan` shows -------===//
//
// One row per stage from partitionCosts, module paths last because their
// width varies. A stage's range names the outermost modules that begin
// and end it, so a row reads like the split points around it. Sizes are in MB (1e6 bytes), times in
// milliseconds.
//
//===----------------------------------------------------------------------===//
#include "passes/PartitionPlan.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace ppc;

using Spans = std::map<std::string, std::pair<unsigned, unsigned>>;

/// The shallowest module that lies within ops [a, b) and begins (or, with
/// `atEnd`, ends) at op i; else op i's own path.
static std::string boundaryModule(const Graph &g, const Spans &spans, unsigned i, unsigned a,
                                  unsigned b, bool atEnd) {
  llvm::StringRef path(g.ops()[i]->path);
  for (size_t end = 0; end != llvm::StringRef::npos;) {
    end = path.find('.', end + 1);
    auto it = spans.find(path.take_front(end).str());
    if (it == spans.end())
      continue;
    auto [first, last] = it->second;
    if (first >= a && last < b && (atEnd ? last : first) == i)
      return it->first;
  }
  return path.str();
}

/// "first.module .. last.module" of the ops in [a, b), skipping ops at the
/// root; "(root)" when all are.
static std::string moduleRange(const Graph &g, const Spans &spans, unsigned a, unsigned b) {
  unsigned first = a, last = b;
  while (first < b && g.ops()[first]->path.empty())
    ++first;
  while (last > first && g.ops()[last - 1]->path.empty())
    --last;
  if (first == b)
    return "(root)";
  std::string from = boundaryModule(g, spans, first, a, b, false);
  std::string to = boundaryModule(g, spans, last - 1, a, b, true);
  return from == to ? from : from + " .. " + to;
}

std::string ppc::formatPlan(const Graph &g, const std::vector<unsigned> &positions,
                            const PartitionOptions &opts) {
  std::vector<StageCost> costs = partitionCosts(g, positions, opts);
  Spans spans = moduleSpans(g);
  // Zero-bubble's I and W, where the stages were timed with a split backward.
  bool split = opts.training && !costs.empty() && costs.front().inputGradMs >= 0;
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "stage" << (opts.training ? "  forward ms  backward ms" : "")
     << (split ? "  (I ms   W ms)" : "");
  os << "  compute ms  comm ms   time ms       params  param MB  activ. MB  memory MB  "
        "sends MB  modules\n";
  double slowest = 0, sum = 0;
  for (size_t k = 0; k < costs.size(); ++k) {
    const StageCost &c = costs[k];
    slowest = std::max(slowest, stageWeight(c, opts));
    sum += stageWeight(c, opts);
    os << llvm::format("%5zu", k);
    if (opts.training)
      os << llvm::format(" %11.3f %12.3f", c.forwardMs, c.backwardMs);
    if (split)
      os << llvm::format("  %6.3f %6.3f ", c.inputGradMs, c.backwardMs - c.inputGradMs);
    os << llvm::format(" %11.3f %8.3f %9.3f %12.0f %9.3f %10.3f %10.3f %9.3f  ", c.computeMs,
                       c.commMs, c.totalMs(), c.paramCount, c.paramBytes / 1e6,
                       c.activationBytes / 1e6, c.memoryBytes / 1e6, c.boundaryBytesOut / 1e6)
       << moduleRange(g, spans, c.firstOp, c.endOp) << (c.recompute ? "  (recomputes)" : "")
       << "\n";
  }
  double mean = costs.empty() ? 0 : sum / costs.size();
  os << llvm::format("imbalance (slowest / mean %s): %.3f\n",
                     opts.balance == Balance::Params ? "parameter bytes" : "time",
                     mean > 0 ? slowest / mean : 1.0);
  return os.str();
}
