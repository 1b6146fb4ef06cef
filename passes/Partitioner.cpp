//===- passes/Partitioner.cpp - Choosing split points ---------------------===//
//
// Prefix sums make a stage's compute, activations and communication O(1):
// compute is a difference of prefix times, communication the bytes live
// across its two boundaries (values defined before a boundary and used after
// it; model inputs are read by every stage locally and parameters and
// constants are cloned, so neither is sent). Parameter bytes of all stages
// starting at one position come in one sweep. The DP
// f[k][j] = min over i of max(f[k-1][i], weight(stage k = [pos i, pos j)))
// runs over the candidate positions in O(C^2 * S); a stage never spans a
// user split, so every user split is a cut. Many partitions often share the
// slowest stage (one indivisible embedding or head dominates), so a second
// pass of the same DP picks, among those, the one with the least sum of
// squared stage weights: the evenest spread of the rest.
//
//===----------------------------------------------------------------------===//
#include "passes/Partitioner.h"

#include "ir/Diagnostics.h"
#include "passes/PlaceSplits.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

using namespace ppc;

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

int depth(llvm::StringRef path) { return int(path.count('.')); }

struct ParamUse {
  double bytes = 0, count = 0;
  std::vector<unsigned> uses; // op indices, ascending
};

/// Per-position sums over a graph for the costs of any stage.
class CostTables {
public:
  CostTables(const Graph &g, const PartitionOptions &opts) : opts(opts) {
    size_t n = g.ops().size();
    prefixTime.assign(n + 1, 0);
    prefixBackward.assign(n + 1, 0);
    prefixInputGrad.assign(n + 1, 0);
    prefixActivation.assign(n + 1, 0);
    prefixWeightKept.assign(n + 1, 0);
    prefixOutput.assign(n + 1, 0);
    for (const Value *out : g.outputs())
      if (out->def)
        prefixOutput[out->def->index + 1] += double(transferBytes(*out));
    if (!g.outputs().empty() && g.outputs().front()->def)
      lossOutput = {g.outputs().front()->def->index, double(transferBytes(*g.outputs().front()))};
    for (size_t i = 0; i < n; ++i)
      prefixOutput[i + 1] += prefixOutput[i];
    for (const auto &op : g.ops()) {
      prefixTime[op->index + 1] = prefixTime[op->index] + opTime(*op);
      prefixBackward[op->index + 1] = prefixBackward[op->index] + opBackwardTime(*op);
      // Ops not measured split their backward evenly, as the simulator does.
      prefixInputGrad[op->index + 1] =
          prefixInputGrad[op->index] +
          (op->cost.inputGradMs >= 0 ? op->cost.inputGradMs : opBackwardTime(*op) / 2);
      inputGradMeasured |= op->cost.inputGradMs >= 0;
      prefixActivation[op->index + 1] = prefixActivation[op->index] + opActivationBytes(*op);
      prefixWeightKept[op->index + 1] =
          prefixWeightKept[op->index] +
          (op->cost.weightKeptBytes >= 0 ? op->cost.weightKeptBytes : opActivationBytes(*op));
    }
    addLiveRanges(g);
    addParams(g);
  }

  /// Costs of the stages [a, ends[j]) for every j; `ends` ascending, > a.
  std::vector<StageCost> row(unsigned a, llvm::ArrayRef<unsigned> ends) const {
    std::vector<double> bytes(ends.size(), 0), count(ends.size(), 0), largest(ends.size(), 0);
    for (const ParamUse &p : params) {
      auto use = std::lower_bound(p.uses.begin(), p.uses.end(), a);
      if (use == p.uses.end())
        continue;
      size_t j = std::upper_bound(ends.begin(), ends.end(), *use) - ends.begin();
      if (j < ends.size()) {
        bytes[j] += p.bytes;
        count[j] += p.count;
        largest[j] = std::max(largest[j], p.bytes);
      }
    }
    std::vector<StageCost> costs;
    double paramBytes = 0, paramCount = 0, largestParam = 0;
    for (size_t j = 0; j < ends.size(); ++j) {
      StageCost c;
      c.firstOp = a;
      c.endOp = ends[j];
      c.forwardMs = prefixTime[c.endOp] - prefixTime[a];
      c.backwardMs = prefixBackward[c.endOp] - prefixBackward[a];
      if (inputGradMeasured)
        c.inputGradMs = prefixInputGrad[c.endOp] - prefixInputGrad[a];
      c.computeMs = c.forwardMs + (opts.training ? c.backwardMs : 0);
      if (opts.linkGBps > 0)
        c.commMs = (live[a] + live[c.endOp]) / (opts.linkGBps * 1e9) * 1e3;
      c.activationBytes = prefixActivation[c.endOp] - prefixActivation[a];
      c.weightKeptBytes = prefixWeightKept[c.endOp] - prefixWeightKept[a];
      c.inputBytes = live[a];
      c.boundaryBytesOut = live[c.endOp];
      c.paramBytes = paramBytes += bytes[j];
      c.paramCount = paramCount += count[j];
      c.largestParamBytes = largestParam = std::max(largestParam, largest[j]);
      c.outputBytes = prefixOutput[c.endOp] - prefixOutput[a];
      if (lossOutput.first >= a && lossOutput.first < c.endOp)
        c.lossOutputBytes = lossOutput.second;
      costs.push_back(c);
    }
    return costs;
  }

private:
  double opTime(const Op &op) const {
    if (opts.balance == Balance::Flops)
      return opts.roofline.timeMs(op.cost.flops, op.cost.bytes);
    return op.cost.timeMs;
  }

  /// Without a measured backward the roofline's twice the forward, the usual
  /// ratio of matmul-bound layers (one GEMM for the input, one for the weight).
  double opBackwardTime(const Op &op) const {
    if (opts.balance == Balance::Flops)
      return 2 * opts.roofline.timeMs(op.cost.flops, op.cost.bytes);
    return op.cost.backwardMs;
  }

  /// live[p]: bytes of results defined before op p and used at or after it.
  void addLiveRanges(const Graph &g) {
    size_t n = g.ops().size();
    std::vector<double> delta(n + 2, 0);
    for (const auto &op : g.ops())
      for (const Value *r : op->results) {
        unsigned last = op->index;
        for (const Op *u : r->users)
          last = std::max(last, u->index);
        if (last == op->index)
          continue;
        delta[op->index + 1] += double(transferBytes(*r));
        delta[last + 1] -= double(transferBytes(*r));
      }
    live.assign(n + 1, 0);
    double running = 0;
    for (size_t p = 0; p <= n; ++p)
      live[p] = running += delta[p];
    live[n] = 0;
  }

  void addParams(const Graph &g) {
    for (const auto &v : g.values()) {
      if (v->kind != ValueKind::Param || v->users.empty())
        continue;
      const ParamInfo *info = g.paramInfo(v->name);
      const TensorInfo &t = info && info->tensor.hasShape ? info->tensor : v->tensor;
      ParamUse p;
      p.bytes = double(std::max<int64_t>(0, t.bytes()));
      p.count = double(std::max<int64_t>(0, t.numel()));
      for (const Op *u : v->users)
        p.uses.push_back(u->index);
      std::sort(p.uses.begin(), p.uses.end());
      params.push_back(std::move(p));
    }
  }

  const PartitionOptions &opts;
  std::vector<double> prefixTime, prefixBackward, prefixInputGrad, prefixActivation,
      prefixWeightKept, prefixOutput, live;
  bool inputGradMeasured = false;
  std::pair<unsigned, double> lossOutput{~0u, 0}; // defining op, bytes
  std::vector<ParamUse> params;
};

/// What stage k of `stages` holds at its peak, with or without recomputation.
double memoryBytes(const StageCost &c, int k, int stages, const PartitionOptions &opts,
                   bool recompute) {
  double held = heldBytes(c, opts);
  double activations = keptActivationBytes(c), forWeights = keptWeightBytes(c);
  double most = 0;
  for (const InFlight &live : opts.inFlight(k, stages)) {
    double inputs = c.inputBytes * live.total();
    most =
        std::max(most, recompute ? inputs + activations
                                 : inputs + activations * live.full + forWeights * live.weightOnly);
  }
  return held + most;
}

/// Decides whether stage k recomputes, fills its memory, and returns its
/// weight: infinity when it breaks the memory cap either way.
double decideStage(StageCost &c, int k, int stages, const PartitionOptions &opts) {
  bool capped = opts.maxStageBytes > 0;
  c.recompute = opts.recompute == Recompute::All;
  c.memoryBytes = memoryBytes(c, k, stages, opts, c.recompute);
  if (opts.recompute == Recompute::Auto && capped && c.memoryBytes > opts.maxStageBytes) {
    c.recompute = true;
    c.memoryBytes = memoryBytes(c, k, stages, opts, true);
  }
  if (capped && c.memoryBytes > opts.maxStageBytes)
    return kInfinity;
  return stageWeight(c, opts);
}

using WeightFn = std::function<double(const StageCost &, int stage)>;

struct Solution {
  double slowest = kInfinity;
  std::vector<size_t> cuts; // indices into the position list, S-1 of them
};

/// What solve() minimises: the slowest stage, or, over the partitions whose
/// every stage weighs at most `cap`, the sum of squared stage weights.
struct Objective {
  bool sumOfSquares = false;
  double cap = kInfinity;

  double combine(double before, double w) const {
    return sumOfSquares ? before + w * w : std::max(before, w);
  }
};

/// The exact optimum of `objective` over partitions of pos[0] .. pos.back()
/// into `stages` stages cut at positions of `pos`; no stage spans a position
/// marked fixed. `slowest` is the heaviest stage of the partition chosen.
Solution solve(const CostTables &t, const std::vector<unsigned> &pos,
               const std::vector<bool> &isFixed, int stages, const WeightFn &weight,
               Objective objective = {}) {
  size_t n = pos.size();
  std::vector<std::vector<double>> best(stages, std::vector<double>(n, kInfinity));
  std::vector<std::vector<size_t>> from(stages, std::vector<size_t>(n, 0));
  for (size_t i = 0; i + 1 < n; ++i) {
    if (i > 0 && llvm::none_of(best, [&](const auto &b) { return b[i] < kInfinity; }))
      continue;          // no stage can start here
    size_t last = i + 1; // a stage starting at pos[i] ends at the next fixed split at the latest
    while (last + 1 < n && !isFixed[last])
      ++last;
    std::vector<StageCost> row = t.row(pos[i], llvm::makeArrayRef(pos).slice(i + 1, last - i));
    for (int k = 0; k < stages; ++k) {
      double before = k == 0 ? (i == 0 ? 0 : kInfinity) : best[k - 1][i];
      if (before == kInfinity)
        continue;
      for (size_t j = i + 1; j <= last; ++j) {
        double w = weight(row[j - i - 1], k);
        if (w > objective.cap)
          continue;
        double v = objective.combine(before, w);
        if (v < best[k][j]) {
          best[k][j] = v;
          from[k][j] = i;
        }
      }
    }
  }
  Solution s;
  if (best[stages - 1][n - 1] == kInfinity)
    return s;
  for (size_t j = n - 1, k = stages - 1; k > 0; --k)
    s.cuts.push_back(j = from[k][j]);
  std::reverse(s.cuts.begin(), s.cuts.end());
  s.slowest = objective.sumOfSquares ? objective.cap : best[stages - 1][n - 1];
  return s;
}

/// The user's split positions, checked as PlaceSplits would.
std::map<unsigned, SplitPoint> fixedPositions(const Graph &g, const PartitionOptions &opts) {
  std::map<unsigned, SplitPoint> fixed;
  for (const SplitPoint &s : opts.fixedSplits) {
    unsigned p = splitPosition(g, s);
    if (p == 0 || p >= g.ops().size())
      throw CompileError("split " + s.str() + " leaves a stage without ops",
                         "split between modules that compute something");
    auto [it, fresh] = fixed.insert({p, s});
    if (!fresh)
      throw CompileError("split points " + it->second.str() + " and " + s.str() +
                             " are the same point, which would leave a stage without ops",
                         "drop one of them");
  }
  if (int(fixed.size()) > opts.stages - 1)
    throw CompileError(std::to_string(opts.stages) + " stages but " + std::to_string(fixed.size()) +
                           " split points were given",
                       "give at most N-1 split points with --stages N");
  return fixed;
}

/// 0, the split positions and the op count, each marked if the user fixed it.
std::pair<std::vector<unsigned>, std::vector<bool>>
positionList(const Graph &g, const std::map<unsigned, SplitPoint> &names,
             const std::map<unsigned, SplitPoint> &fixed) {
  std::vector<unsigned> pos{0};
  std::vector<bool> isFixed{false};
  for (auto &[p, name] : names) {
    pos.push_back(p);
    isFixed.push_back(fixed.count(p) > 0);
  }
  pos.push_back(g.ops().size());
  isFixed.push_back(false);
  return {pos, isFixed};
}

std::string megabytes(double bytes) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%.1f MB", bytes / 1e6);
  return text;
}

/// The smallest tenth of a MB at or above `bytes`, as --max-stage-mb takes it.
std::string boundAbove(double bytes) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%.1f", std::ceil(bytes / 1e5) / 10);
  return text;
}

[[noreturn]] void reportMemoryCap(const CostTables &t, const std::vector<unsigned> &pos,
                                  const std::vector<bool> &isFixed, const PartitionOptions &opts) {
  bool mayRecompute = opts.recompute != Recompute::None;
  Solution fit = solve(t, pos, isFixed, opts.stages, [&](const StageCost &c, int k) {
    return memoryBytes(c, k, opts.stages, opts, mayRecompute);
  });
  throw CompileError(
      "no split into " + std::to_string(opts.stages) + " stages fits the memory cap of " +
          megabytes(opts.maxStageBytes) + " per stage: the best needs " + megabytes(fit.slowest) +
          " in its largest stage",
      "raise --max-stage-mb to at least " + boundAbove(fit.slowest) + ", or use more stages");
}

} // namespace

/// Model outputs but the loss's are counted as held (heldBytes), not here.
static double withoutHeldOutputs(const StageCost &c, double bytes) {
  return std::max(0.0, bytes - (c.outputBytes - c.lossOutputBytes));
}

double ppc::keptActivationBytes(const StageCost &c) {
  return withoutHeldOutputs(c, c.activationBytes);
}

double ppc::keptWeightBytes(const StageCost &c) {
  return withoutHeldOutputs(c, std::min(c.weightKeptBytes, c.activationBytes));
}

double ppc::heldBytes(const StageCost &c, const PartitionOptions &opts) {
  return c.paramBytes * (1 + opts.stateBytesPerParamByte) + c.outputBytes * opts.microbatches +
         (opts.training ? c.largestParamBytes : 0);
}

double ppc::opActivationBytes(const Op &op) {
  if (op.cost.activationBytes >= 0)
    return op.cost.activationBytes;
  double bytes = 0;
  for (size_t i = 0; i < op.results.size(); ++i) {
    bool isView = i < op.resultAliases.size() && op.resultAliases[i] >= 0;
    if (op.results[i]->isTensor() && !isView)
      bytes += double(std::max<int64_t>(0, op.results[i]->tensor.bytes()));
  }
  return bytes;
}

std::map<std::string, std::pair<unsigned, unsigned>> ppc::moduleSpans(const Graph &g) {
  llvm::StringSet<> known;
  for (const std::string &m : g.modules)
    known.insert(m);
  std::map<std::string, std::pair<unsigned, unsigned>> spans;
  for (const auto &op : g.ops()) {
    llvm::StringRef path(op->path);
    for (size_t end = 0; end != llvm::StringRef::npos && !path.empty();) {
      end = path.find('.', end + 1);
      llvm::StringRef prefix = path.take_front(end);
      if (!known.contains(prefix))
        continue;
      auto [it, fresh] = spans.try_emplace(prefix.str(), op->index, op->index);
      it->second.second = op->index;
    }
  }
  return spans;
}

InFlightFn ppc::inFlightFor(llvm::StringRef schedule, int microbatches) {
  if (schedule == "gpipe")
    return [microbatches](int, int) { return std::vector<InFlight>{{microbatches, 0}}; };
  return [microbatches](int k, int s) {
    return std::vector<InFlight>{{std::min(s - k, microbatches), 0}};
  };
}

std::vector<Candidate> ppc::splitCandidates(const Graph &g) {
  auto spans = moduleSpans(g);
  auto rank = [](const SplitPoint &s) { return std::make_pair(s.atEnd, depth(s.path)); };
  std::map<unsigned, SplitPoint> best;
  auto offer = [&](unsigned pos, const std::string &m, bool atEnd) {
    if (pos == 0 || pos >= g.ops().size())
      return;
    SplitPoint name{m, atEnd};
    auto [it, fresh] = best.insert({pos, name});
    if (!fresh && rank(name) < rank(it->second))
      it->second = name;
  };
  for (const std::string &m : g.modules) {
    auto it = spans.find(m);
    if (it == spans.end())
      continue;
    offer(it->second.first, m, false);
    offer(it->second.second + 1, m, true);
  }
  std::vector<Candidate> out;
  for (auto &[pos, name] : best)
    out.push_back({pos, name});
  return out;
}

std::vector<unsigned> ppc::splitPositions(const Graph &g, const std::vector<SplitPoint> &splits) {
  std::vector<unsigned> positions;
  for (const SplitPoint &s : splits)
    positions.push_back(splitPosition(g, s));
  std::sort(positions.begin(), positions.end());
  return positions;
}

double ppc::stageWeight(const StageCost &c, const PartitionOptions &opts) {
  if (opts.balance == Balance::Params)
    return c.paramBytes;
  return c.totalMs() + (c.recompute && opts.training ? c.forwardMs : 0);
}

std::vector<StageCost> ppc::partitionCosts(const Graph &g, const std::vector<unsigned> &positions,
                                           const PartitionOptions &opts) {
  CostTables t(g, opts);
  std::vector<unsigned> cuts{0};
  cuts.insert(cuts.end(), positions.begin(), positions.end());
  cuts.push_back(g.ops().size());
  std::vector<StageCost> costs;
  for (size_t k = 0; k + 1 < cuts.size(); ++k) {
    StageCost c = t.row(cuts[k], {cuts[k + 1]}).front();
    decideStage(c, int(k), int(cuts.size()) - 1, opts);
    costs.push_back(c);
  }
  return costs;
}

std::vector<StageCost> ppc::stageCosts(const Graph &g, const PartitionOptions &opts) {
  // Stage k starts at its first op; stages are contiguous in program order.
  std::vector<unsigned> positions;
  for (int k = 1; k < g.numStages; ++k) {
    auto first = llvm::find_if(g.ops(), [&](const auto &op) { return op->stage >= k; });
    positions.push_back(first == g.ops().end() ? unsigned(g.ops().size()) : (*first)->index);
  }
  std::vector<StageCost> costs = partitionCosts(g, positions, opts);
  for (const CrossStageValue &c : g.crossStage)
    if (c.producer >= 0 && c.producer < int(costs.size()))
      costs[c.producer].sendBytes += double(transferBytes(*c.value)) * double(c.consumers.size());
  return costs;
}

double ppc::partitionObjective(const Graph &g, const std::vector<unsigned> &positions,
                               const PartitionOptions &opts) {
  double slowest = 0;
  std::vector<StageCost> costs = partitionCosts(g, positions, opts);
  for (size_t k = 0; k < costs.size(); ++k)
    slowest = std::max(slowest, decideStage(costs[k], int(k), int(costs.size()), opts));
  return slowest;
}

std::vector<SplitPoint> ppc::choosePartition(const Graph &g, const PartitionOptions &opts) {
  if (opts.stages < 1)
    throw CompileError("cannot cut a model into " + std::to_string(opts.stages) + " stages",
                       "ask for one stage or more");
  std::map<unsigned, SplitPoint> fixed = fixedPositions(g, opts);
  std::map<unsigned, SplitPoint> names = fixed; // the user's names win
  for (const Candidate &c : splitCandidates(g))
    names.insert({c.position, c.name});
  if (int(names.size()) < opts.stages - 1)
    throw CompileError("cannot cut the model into " + std::to_string(opts.stages) +
                           " stages: it has " + std::to_string(names.size()) +
                           " places between modules to split",
                       "ask for at most " + std::to_string(names.size() + 1) + " stages");
  auto [pos, isFixed] = positionList(g, names, fixed);
  CostTables t(g, opts);
  WeightFn weight = [&](const StageCost &c, int k) {
    StageCost decided = c;
    return decideStage(decided, k, opts.stages, opts);
  };
  Solution fastest = solve(t, pos, isFixed, opts.stages, weight);
  if (fastest.slowest == kInfinity)
    reportMemoryCap(t, pos, isFixed, opts);
  Solution s = solve(t, pos, isFixed, opts.stages, weight, {true, fastest.slowest});
  if (s.slowest == kInfinity) // cannot happen with exact weights; keep the first optimum
    s = fastest;
  std::vector<SplitPoint> splits;
  for (size_t cut : s.cuts)
    splits.push_back(names.at(pos[cut]));
  return splits;
}

std::vector<SplitPoint> ppc::uniformBlockSplit(const Graph &g, int stages,
                                               llvm::StringRef container) {
  // container -> (first op, child) of its numbered children that run ops
  std::map<std::string, std::vector<std::pair<unsigned, std::string>>> blocks;
  for (auto &[m, span] : moduleSpans(g)) {
    auto [parent, last] = llvm::StringRef(m).rsplit('.');
    unsigned index = 0;
    if (last != m && !last.getAsInteger(10, index))
      blocks[parent.str()].push_back({span.first, m});
  }
  auto score = [&](const std::string &c) { return std::make_pair(blocks.at(c).size(), depth(c)); };
  std::string chosen = container.str();
  if (chosen.empty())
    for (auto &[name, list] : blocks)
      if (chosen.empty() || score(name) > score(chosen))
        chosen = name;
  if (chosen.empty())
    throw CompileError("a uniform split needs a container of numbered blocks (layers.0, "
                       "layers.1, ...), and the model has none",
                       "balance by time or parameters instead");
  std::vector<std::pair<unsigned, std::string>> list = blocks[chosen];
  if (int(list.size()) < stages)
    throw CompileError("a uniform split into " + std::to_string(stages) + " stages needs " +
                           std::to_string(stages) + " numbered blocks; '" + chosen + "' has " +
                           std::to_string(list.size()),
                       "use fewer stages or another balance");
  std::sort(list.begin(), list.end());
  // DeepSpeed's partition_uniform: the first n % S stages take one more.
  size_t chunk = list.size() / stages, residual = list.size() % stages;
  std::vector<SplitPoint> splits;
  for (size_t p = 1; p < size_t(stages); ++p)
    splits.push_back({list[p * chunk + std::min(p, residual)].second, false});
  return splits;
}

std::vector<SplitPoint> ppc::parameterSplit(const Graph &g, int stages) {
  PartitionOptions opts;
  opts.stages = stages;
  opts.balance = Balance::Params;
  opts.linkGBps = 0;
  return choosePartition(g, opts);
}
