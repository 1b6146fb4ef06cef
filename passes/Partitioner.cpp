//===- passes/Partitioner.cpp - Choosing split points ---------------------===//
//
// Prefix sums make every stage's cost O(1) (O(parameters) with a memory
// cap): compute is a difference of prefix times, communication the bytes
// live across its two boundaries. The DP f[k][j] = min over i of
// max(f[k-1][i], cost(i, j)) then runs over the candidate positions.
//
//===----------------------------------------------------------------------===//
#include "passes/Partitioner.h"

#include "ir/Diagnostics.h"
#include "passes/CostModel.h"
#include "passes/PlaceSplits.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

using namespace ppc;

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

/// Per-position tables of a graph, built once per partitioning.
struct Tables {
  std::vector<double> prefixTime;        // time of ops before position i
  std::vector<double> prefixResultBytes; // tensor bytes produced before position i
  std::vector<double> liveBytes;         // bytes defined before p and used at or after p
  std::vector<std::pair<double, std::vector<unsigned>>> paramUses; // bytes, user indices

  explicit Tables(const Graph &g) {
    size_t n = g.ops().size();
    prefixTime.assign(n + 1, 0);
    prefixResultBytes.assign(n + 1, 0);
    std::vector<double> delta(n + 2, 0);
    for (const auto &op : g.ops()) {
      double produced = 0;
      for (const Value *r : op->results) {
        produced += r->isTensor() ? std::max<int64_t>(0, r->tensor.bytes()) : 0;
        unsigned last = op->index;
        for (const Op *u : r->users)
          last = std::max(last, u->index);
        if (last > op->index) { // live across positions index+1 .. last
          delta[op->index + 1] += transferBytes(*r);
          delta[last + 1] -= transferBytes(*r);
        }
      }
      prefixTime[op->index + 1] = prefixTime[op->index] + op->cost.timeMs;
      prefixResultBytes[op->index + 1] = prefixResultBytes[op->index] + produced;
    }
    liveBytes.assign(n + 1, 0);
    double running = 0;
    for (size_t p = 0; p <= n; ++p)
      liveBytes[p] = running += delta[p];
    liveBytes[0] = liveBytes[n] = 0;
    for (const auto &v : g.values()) {
      if (v->kind != ValueKind::Param || v->users.empty())
        continue;
      const ParamInfo *info = g.paramInfo(v->name);
      double bytes = info ? std::max<int64_t>(0, info->tensor.bytes()) : 0;
      std::vector<unsigned> uses;
      for (const Op *u : v->users)
        uses.push_back(u->index);
      std::sort(uses.begin(), uses.end());
      paramUses.push_back({bytes, uses});
    }
  }

  double paramBytes(unsigned a, unsigned b) const {
    double total = 0;
    for (const auto &[bytes, uses] : paramUses) {
      auto it = std::lower_bound(uses.begin(), uses.end(), a);
      if (it != uses.end() && *it < b)
        total += bytes;
    }
    return total;
  }
};

StageCost stageCost(const Tables &t, unsigned a, unsigned b, const PartitionOptions &opts) {
  StageCost c;
  c.computeMs = t.prefixTime[b] - t.prefixTime[a];
  if (opts.linkGBps > 0)
    c.commMs = (t.liveBytes[a] + t.liveBytes[b]) / (opts.linkGBps * 1e9) * 1e3;
  c.activationBytes = t.prefixResultBytes[b] - t.prefixResultBytes[a];
  c.boundaryBytesOut = t.liveBytes[b];
  if (opts.balance == Balance::Params || opts.maxStageBytes > 0)
    c.paramBytes = t.paramBytes(a, b);
  return c;
}

/// The value minimised for one stage, or infinity when the stage is not allowed.
double stageObjective(const Tables &t, unsigned a, unsigned b, int k, const PartitionOptions &o) {
  StageCost c = stageCost(t, a, b, o);
  if (o.maxStageBytes > 0 &&
      c.paramBytes + c.activationBytes * o.inFlight(k, o.stages) > o.maxStageBytes)
    return kInfinity;
  return o.balance == Balance::Params ? c.paramBytes : c.totalMs();
}

int depth(const std::string &path) { return int(llvm::count(path, '.')); }

} // namespace

std::vector<Candidate> ppc::splitCandidates(const Graph &g) {
  std::map<std::string, std::pair<unsigned, unsigned>> span; // module -> first, last op
  for (const auto &op : g.ops())
    for (const std::string &m : g.modules)
      if (isWithinModule(op->path, m)) {
        auto [it, fresh] = span.try_emplace(m, op->index, op->index);
        it->second.second = op->index;
      }
  std::map<unsigned, Candidate> best;
  auto offer = [&](unsigned pos, const std::string &m, bool atEnd) {
    if (pos == 0 || pos >= g.ops().size())
      return;
    auto it = best.find(pos);
    auto rank = [](const SplitPoint &s) { return std::make_pair(s.atEnd, depth(s.path)); };
    SplitPoint name{m, atEnd};
    if (it == best.end() || rank(name) < rank(it->second.name))
      best[pos] = {pos, name};
  };
  for (const std::string &m : g.modules) {
    auto it = span.find(m);
    if (it == span.end())
      continue;
    offer(it->second.first, m, false);
    offer(it->second.second + 1, m, true);
  }
  std::vector<Candidate> out;
  for (auto &[pos, c] : best)
    out.push_back(c);
  return out;
}

std::vector<unsigned> ppc::splitPositions(const Graph &g, const std::vector<SplitPoint> &splits) {
  std::vector<unsigned> positions;
  for (const SplitPoint &s : splits)
    positions.push_back(splitPosition(g, s));
  std::sort(positions.begin(), positions.end());
  return positions;
}

std::vector<StageCost> ppc::partitionCosts(const Graph &g, const std::vector<unsigned> &positions,
                                           const PartitionOptions &opts) {
  Tables t(g);
  std::vector<unsigned> cuts{0};
  cuts.insert(cuts.end(), positions.begin(), positions.end());
  cuts.push_back(g.ops().size());
  std::vector<StageCost> costs;
  for (size_t k = 0; k + 1 < cuts.size(); ++k)
    costs.push_back(stageCost(t, cuts[k], cuts[k + 1], opts));
  return costs;
}

double ppc::partitionObjective(const Graph &g, const std::vector<unsigned> &positions,
                               const PartitionOptions &opts) {
  Tables t(g);
  std::vector<unsigned> cuts{0};
  cuts.insert(cuts.end(), positions.begin(), positions.end());
  cuts.push_back(g.ops().size());
  double worst = 0;
  for (size_t k = 0; k + 1 < cuts.size(); ++k)
    worst = std::max(worst, stageObjective(t, cuts[k], cuts[k + 1], int(k), opts));
  return worst;
}

std::vector<SplitPoint> ppc::choosePartition(const Graph &g, const PartitionOptions &opts) {
  std::vector<Candidate> cands = splitCandidates(g);
  std::vector<unsigned> fixed = splitPositions(g, opts.fixedSplits);
  for (size_t i = 0; i < fixed.size(); ++i)
    if (llvm::none_of(cands, [&](const Candidate &c) { return c.position == fixed[i]; }))
      cands.push_back({fixed[i], opts.fixedSplits[i]});
  std::sort(cands.begin(), cands.end(),
            [](const Candidate &a, const Candidate &b) { return a.position < b.position; });
  std::vector<unsigned> pos{0};
  for (const Candidate &c : cands)
    pos.push_back(c.position);
  pos.push_back(g.ops().size());
  int S = opts.stages;
  size_t C = pos.size();
  if (S < 1 || size_t(S) > C - 1)
    throw CompileError("cannot cut the model into " + std::to_string(S) + " stages: it has " +
                           std::to_string(C - 1) + " places between modules to split",
                       "ask for fewer stages");
  Tables t(g);
  auto crossesFixed = [&](size_t i, size_t j) {
    return llvm::any_of(fixed, [&](unsigned f) { return f > pos[i] && f < pos[j]; });
  };
  // f[k][j]: best slowest stage for ops before pos[j] in k+1 stages.
  std::vector<std::vector<double>> f(S, std::vector<double>(C, kInfinity));
  std::vector<std::vector<size_t>> from(S, std::vector<size_t>(C, 0));
  for (size_t j = 1; j < C; ++j)
    if (!crossesFixed(0, j))
      f[0][j] = stageObjective(t, 0, pos[j], 0, opts);
  for (int k = 1; k < S; ++k)
    for (size_t j = k + 1; j < C; ++j)
      for (size_t i = k; i < j; ++i) {
        if (f[k - 1][i] == kInfinity || crossesFixed(i, j))
          continue;
        double v = std::max(f[k - 1][i], stageObjective(t, pos[i], pos[j], k, opts));
        if (v < f[k][j]) {
          f[k][j] = v;
          from[k][j] = i;
        }
      }
  if (f[S - 1][C - 1] == kInfinity)
    throw CompileError("no split into " + std::to_string(S) +
                           " stages meets the constraints (memory cap or fixed splits)",
                       "raise --max-stage-mb or change the number of stages");
  std::vector<SplitPoint> splits;
  for (size_t j = C - 1, k = S - 1; k > 0; --k) {
    j = from[k][j];
    splits.push_back(cands[j - 1].name);
  }
  std::reverse(splits.begin(), splits.end());
  return splits;
}

std::vector<SplitPoint> ppc::uniformBlockSplit(const Graph &g, int stages) {
  std::map<std::string, std::vector<int>> children; // container -> numbered children with ops
  std::set<std::string> withOps;
  for (const Candidate &c : splitCandidates(g))
    if (!c.name.atEnd)
      withOps.insert(c.name.path);
  for (const std::string &m : g.modules) {
    auto [parent, last] = llvm::StringRef(m).rsplit('.');
    int index = 0;
    if (last != m && !last.getAsInteger(10, index) && withOps.count(m))
      children[parent.str()].push_back(index);
  }
  std::string container;
  for (auto &[name, list] : children)
    if (container.empty() || list.size() > children[container].size())
      container = name;
  if (container.empty() || int(children[container].size()) < stages)
    throw CompileError("no container with " + std::to_string(stages) + " numbered blocks");
  std::vector<int> blocks = children[container];
  std::sort(blocks.begin(), blocks.end());
  std::vector<SplitPoint> splits;
  for (int i = 1; i < stages; ++i)
    splits.push_back({container + "." + std::to_string(blocks[i * blocks.size() / stages]), false});
  return splits;
}

std::vector<SplitPoint> ppc::parameterSplit(const Graph &g, int stages) {
  PartitionOptions opts;
  opts.stages = stages;
  opts.balance = Balance::Params;
  opts.linkGBps = 0;
  return choosePartition(g, opts);
}
