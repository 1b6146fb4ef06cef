//===- passes/PartitionPlan.cpp - The plan `ppc --print-plan` shows -------===//
#include "passes/PartitionPlan.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

using namespace ppc;

/// "first.module .. last.module" of the ops in [a, b).
static std::string moduleRange(const Graph &g, unsigned a, unsigned b) {
  std::string first, last;
  for (unsigned i = a; i < b; ++i) {
    const std::string &p = g.ops()[i]->path;
    if (p.empty())
      continue;
    if (first.empty())
      first = p;
    last = p;
  }
  if (first.empty())
    return "(root)";
  return first == last ? first : first + " .. " + last;
}

std::string ppc::formatPlan(const Graph &g, const std::vector<unsigned> &positions,
                            const PartitionOptions &opts) {
  PartitionOptions withParams = opts;
  withParams.balance = Balance::Params; // so that parameter bytes are filled in
  std::vector<StageCost> costs = partitionCosts(g, positions, withParams);
  std::vector<unsigned> cuts{0};
  cuts.insert(cuts.end(), positions.begin(), positions.end());
  cuts.push_back(g.ops().size());
  std::string text;
  llvm::raw_string_ostream os(text);
  os << "stage  compute ms  comm ms  param MB  activ. MB  sends MB  modules\n";
  double slowest = 0, sum = 0;
  for (size_t k = 0; k < costs.size(); ++k) {
    const StageCost &c = costs[k];
    double t = opts.balance == Balance::Params ? c.paramBytes : c.totalMs();
    slowest = std::max(slowest, t);
    sum += t;
    os << llvm::format("%5zu %11.3f %8.3f %9.3f %10.3f %9.3f  ", k, c.computeMs, c.commMs,
                       c.paramBytes / 1e6, c.activationBytes / 1e6, c.boundaryBytesOut / 1e6)
       << moduleRange(g, cuts[k], cuts[k + 1]) << "\n";
  }
  double mean = sum / costs.size();
  os << llvm::format("imbalance (slowest / mean): %.3f\n", mean > 0 ? slowest / mean : 1.0);
  return os.str();
}
