//===- tests/passes/PartitionerTest.cpp - The DP partitioner --------------===//
//
// Optimality against brute force on random graphs (nested modules, skip
// edges, scalars, shared parameters, control flow; with memory caps and user
// splits), and among the partitions tied on it the evenest; stage costs
// against a naive recount, candidate placement and naming, diagnostics, the
// plan table, and a GPT-2-shaped model with a 50257-word head where the
// chosen partition beats DeepSpeed's uniform and parameter-count splits.
//
//===----------------------------------------------------------------------===//
#include "passes/Partitioner.h"
#include "ir/Diagnostics.h"
#include "passes/CrossStageValues.h"
#include "passes/PartitionPlan.h"
#include "passes/PlaceSplits.h"
#include "tests/ir/FileCheck.h"

#include <functional>
#include <random>

using namespace ppc;
using namespace ppc::testing;

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

/// Fills Graph::params from the graph's parameter values, as the frontend does.
void registerParams(Graph &g) {
  for (const auto &v : g.values())
    if (v->kind == ValueKind::Param)
      g.params.push_back({v->name, true, false, v->tensor});
}

/// `blocks` modules b0, b1, ..., each with up to two children (and sometimes
/// one that runs no ops), 1-4 ops of random cost spread over them, values
/// that skip ahead, int results, a parameter shared by several blocks, ops
/// at the root and control flow whose body calls a module.
std::unique_ptr<Graph> randomGraph(std::mt19937 &rng, int blocks) {
  auto g = std::make_unique<Graph>();
  auto chance = [&](int in) { return std::uniform_int_distribution<int>(1, in)(rng) == 1; };
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Value *x = g->addInput("x", "Tensor");
  x->tensor = {"float32", {4}, true};
  std::vector<Value *> produced{x};
  Value *shared = g->addParam("shared.weight", "Tensor");
  shared->tensor = {"float32", {5000}, true};
  auto addOp = [&](const std::string &kind, const std::string &path, Value *param) {
    std::uniform_int_distribution<size_t> pick(0, produced.size() - 1);
    llvm::SmallVector<Value *, 3> inputs{produced.back(), produced[pick(rng)]};
    if (param)
      inputs.push_back(param);
    Op *op = g->addOp(kind, path, inputs, {chance(6) ? "int" : "Tensor"});
    op->cost = {double(uniform(1, 1000)) * 1e6, double(uniform(1, 1000)) * 1e5,
                uniform(1, 500) / 100.0};
    if (op->results[0]->isTensor())
      op->results[0]->tensor = {"float32", {uniform(1, 64) * 256}, true};
    produced.push_back(op->results[0]);
    if (kind == "prim::If") {
      op->hasBlocks = true;
      op->innerModules.push_back(path + ".inner");
      g->modules.push_back(path + ".inner");
    }
  };
  for (int b = 0; b < blocks; ++b) {
    std::string block = "b" + std::to_string(b);
    std::vector<std::string> paths{block};
    g->modules.push_back(block);
    for (int c = uniform(0, 2); c > 0; --c)
      g->modules.push_back(paths.emplace_back(block + ".c" + std::to_string(c)));
    if (chance(4))
      g->modules.push_back(block + ".unused");
    Value *w = g->addParam(block + ".weight", "Tensor");
    w->tensor = {"float32", {uniform(1, 64) * 1000}, true};
    for (int i = uniform(1, 4); i > 0; --i)
      addOp("aten::linear", paths[uniform(0, paths.size() - 1)], chance(5) ? shared : w);
    if (chance(6))
      addOp("prim::If", block, nullptr);
    if (chance(8))
      addOp("aten::add", "", nullptr);
  }
  g->addOutput(produced.back());
  registerParams(*g);
  return g;
}

/// Calls `visit` with the split positions of every choice of stages-1
/// candidates that includes the user's splits.
void forEachPartition(const Graph &g, const PartitionOptions &opts,
                      llvm::function_ref<void(const std::vector<unsigned> &)> visit) {
  std::vector<Candidate> cands = splitCandidates(g);
  std::vector<unsigned> fixed = splitPositions(g, opts.fixedSplits);
  std::vector<unsigned> chosen;
  std::function<void(size_t)> choose = [&](size_t from) {
    if (int(chosen.size()) == opts.stages - 1) {
      if (llvm::all_of(fixed, [&](unsigned f) { return llvm::is_contained(chosen, f); }))
        visit(chosen);
      return;
    }
    for (size_t i = from; i < cands.size(); ++i) {
      chosen.push_back(cands[i].position);
      choose(i + 1);
      chosen.pop_back();
    }
  };
  choose(0);
}

/// The best objective over every partition.
double bruteForce(const Graph &g, const PartitionOptions &opts) {
  double best = kInfinity;
  forEachPartition(g, opts, [&](const std::vector<unsigned> &positions) {
    best = std::min(best, partitionObjective(g, positions, opts));
  });
  return best;
}

double sumOfSquaredWeights(const Graph &g, const std::vector<unsigned> &positions,
                           const PartitionOptions &opts) {
  double sum = 0;
  for (const StageCost &c : partitionCosts(g, positions, opts))
    sum += stageWeight(c, opts) * stageWeight(c, opts);
  return sum;
}

/// The least sum of squared stage weights over the partitions with the best
/// objective.
double bruteForceEvenest(const Graph &g, const PartitionOptions &opts) {
  double best = bruteForce(g, opts), evenest = kInfinity;
  forEachPartition(g, opts, [&](const std::vector<unsigned> &positions) {
    if (partitionObjective(g, positions, opts) == best)
      evenest = std::min(evenest, sumOfSquaredWeights(g, positions, opts));
  });
  return evenest;
}

double chosenObjective(const Graph &g, const PartitionOptions &opts) {
  return partitionObjective(g, splitPositions(g, choosePartition(g, opts)), opts);
}

std::vector<std::string> names(const std::vector<SplitPoint> &splits) {
  std::vector<std::string> out;
  for (const SplitPoint &s : splits)
    out.push_back(s.str());
  return out;
}

/// "name@position" of every candidate.
std::vector<std::string> candidateNames(const Graph &g) {
  std::vector<std::string> out;
  for (const Candidate &c : splitCandidates(g))
    out.push_back(c.name.str() + "@" + std::to_string(c.position));
  return out;
}

std::string diagnose(const std::function<void()> &run) {
  try {
    run();
  } catch (const CompileError &e) {
    return std::string(e.what()) + " | " + e.hint;
  }
  return "no error";
}

const char *kChain = R"(graph(%x : Tensor:float32[1000]) {
  modules a, b, c
  param $a.w : Tensor:float32[250000]
  param $c.w : Tensor:float32[500000]
  %v0 : Tensor:float32[1000] = aten::linear(%x, $a.w) @a
  %v1 : Tensor:float32[1000] = aten::relu(%v0) @b
  %v2 : Tensor:float32[1000] = aten::linear(%v1, $c.w) @c
  return (%v2)
}
)";

/// kChain with compute times 2, 1 and 3 ms.
std::unique_ptr<Graph> chain() {
  auto g = parseOrFail(kChain);
  registerParams(*g);
  for (const auto &op : g->ops())
    op->cost.timeMs = std::vector<double>{2, 1, 3}[op->index];
  return g;
}

} // namespace

TEST(Partitioner, MatchesBruteForceOnRandomGraphs) {
  std::mt19937 rng(1234);
  const Balance balances[] = {Balance::Time, Balance::Flops, Balance::Params};
  for (int trial = 0; trial < 60; ++trial) {
    auto g = randomGraph(rng, 8 + trial % 7);
    for (int stages = 2; stages <= 4; ++stages) {
      PartitionOptions opts;
      opts.stages = stages;
      opts.balance = balances[trial % 3];
      opts.linkGBps = 0.001 * (trial % 4); // from free to dominant communication
      std::vector<unsigned> chosen = splitPositions(*g, choosePartition(*g, opts));
      EXPECT_DOUBLE_EQ(partitionObjective(*g, chosen, opts), bruteForce(*g, opts))
          << "trial " << trial << " stages " << stages;
      // Among the partitions tied on the slowest stage, the evenest.
      double evenest = bruteForceEvenest(*g, opts);
      EXPECT_NEAR(sumOfSquaredWeights(*g, chosen, opts), evenest, 1e-9 * evenest)
          << "trial " << trial << " stages " << stages;
    }
  }
}

TEST(Partitioner, OneDominantOpLeavesTheOtherStagesEven) {
  // A 10 ms embedding and six 1 ms ops: every partition into four stages
  // whose slowest is the embedding alone ties on the objective (a bare first
  // stage of one 1 ms op included); the rest go 2/2/2.
  auto g = parseOrFail(R"(graph(%x : Tensor:float32[8]) {
  modules emb, a, b, c, d, e, f
  %v0 : Tensor:float32[8] = aten::relu(%x) @emb
  %v1 : Tensor:float32[8] = aten::relu(%v0) @a
  %v2 : Tensor:float32[8] = aten::relu(%v1) @b
  %v3 : Tensor:float32[8] = aten::relu(%v2) @c
  %v4 : Tensor:float32[8] = aten::relu(%v3) @d
  %v5 : Tensor:float32[8] = aten::relu(%v4) @e
  %v6 : Tensor:float32[8] = aten::relu(%v5) @f
  return (%v6)
}
)");
  for (const auto &op : g->ops())
    op->cost.timeMs = op->index == 0 ? 10 : 1;
  PartitionOptions opts;
  opts.stages = 4;
  opts.linkGBps = 0;
  EXPECT_EQ(names(choosePartition(*g, opts)),
            (std::vector<std::string>{"a:begin", "c:begin", "e:begin"}));
}

TEST(Partitioner, MatchesBruteForceUnderAMemoryCap) {
  std::mt19937 rng(99);
  int binding = 0, infeasible = 0;
  for (int trial = 0; trial < 40; ++trial) {
    auto g = randomGraph(rng, 10);
    PartitionOptions opts;
    opts.stages = 2 + trial % 3;
    if (trial % 2)
      opts.inFlight = inFlightFor("gpipe", 4);
    if (trial % 3 == 2) { // training with Adam's state; recompute where the cap needs it
      opts.training = true;
      opts.stateBytesPerParamByte = 3;
      opts.recompute = Recompute::Auto;
    }
    double peak = 0; // of the partition chosen without a cap, which the cap then cuts
    for (const StageCost &c :
         partitionCosts(*g, splitPositions(*g, choosePartition(*g, opts)), opts))
      peak = std::max(peak, c.memoryBytes);
    opts.maxStageBytes = peak * (0.75 + 0.05 * (trial % 5));
    double best = bruteForce(*g, opts);
    if (best == kInfinity) {
      ++infeasible;
      EXPECT_THROW(choosePartition(*g, opts), CompileError) << "trial " << trial;
      continue;
    }
    EXPECT_DOUBLE_EQ(chosenObjective(*g, opts), best) << "trial " << trial;
    PartitionOptions uncapped = opts;
    uncapped.maxStageBytes = 0;
    binding += best > bruteForce(*g, uncapped);
  }
  EXPECT_GE(binding, 5) << "caps that change the choice";
  EXPECT_GE(infeasible, 5) << "caps that nothing meets";
}

TEST(Partitioner, KeepsUserSplitsAndChoosesTheRest) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 30; ++trial) {
    auto g = randomGraph(rng, 10);
    PartitionOptions opts;
    opts.stages = 2 + trial % 3;
    opts.linkGBps = 0.001;
    opts.fixedSplits = {{"b5", false}};
    if (opts.stages == 4)
      opts.fixedSplits.push_back({"b8", true});
    std::vector<SplitPoint> splits = choosePartition(*g, opts);
    ASSERT_EQ(splits.size(), size_t(opts.stages - 1));
    for (const SplitPoint &fixed : opts.fixedSplits)
      EXPECT_TRUE(llvm::any_of(splits, [&](const SplitPoint &s) { return s.str() == fixed.str(); }))
          << fixed.str();
    EXPECT_DOUBLE_EQ(partitionObjective(*g, splitPositions(*g, splits), opts),
                     bruteForce(*g, opts));
  }
}

TEST(Partitioner, StageCostsMatchANaiveRecount) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 30; ++trial) {
    auto g = randomGraph(rng, 12);
    std::vector<unsigned> positions;
    for (const Candidate &c : splitCandidates(*g))
      if (std::uniform_int_distribution<int>(0, 2)(rng) == 0)
        positions.push_back(c.position);
    PartitionOptions opts;
    opts.linkGBps = 0.5;
    std::vector<unsigned> cuts{0};
    cuts.insert(cuts.end(), positions.begin(), positions.end());
    cuts.push_back(g->ops().size());
    auto liveAcross = [&](unsigned p) { // bytes defined before op p and used at or after it
      double bytes = 0;
      for (const auto &v : g->values())
        if (v->def && v->def->index < p && p < g->ops().size() &&
            llvm::any_of(v->users, [&](const Op *u) { return u->index >= p; }))
          bytes += v->isTensor() ? v->tensor.bytes() : 8;
      return bytes;
    };
    std::vector<StageCost> costs = partitionCosts(*g, positions, opts);
    ASSERT_EQ(costs.size(), cuts.size() - 1);
    for (size_t k = 0; k < costs.size(); ++k) {
      unsigned a = cuts[k], b = cuts[k + 1];
      double compute = 0, activations = 0, params = 0;
      for (unsigned i = a; i < b; ++i) {
        compute += g->ops()[i]->cost.timeMs;
        for (const Value *r : g->ops()[i]->results)
          activations += r->isTensor() ? r->tensor.bytes() : 0;
      }
      for (const ParamInfo &p : g->params)
        if (llvm::any_of(g->findParam(p.name)->users,
                         [&](const Op *u) { return u->index >= a && u->index < b; }))
          params += p.tensor.bytes();
      EXPECT_NEAR(costs[k].computeMs, compute, 1e-9);
      EXPECT_DOUBLE_EQ(costs[k].commMs, (liveAcross(a) + liveAcross(b)) / 0.5e9 * 1e3);
      EXPECT_DOUBLE_EQ(costs[k].boundaryBytesOut, liveAcross(b));
      EXPECT_DOUBLE_EQ(costs[k].activationBytes, activations);
      EXPECT_DOUBLE_EQ(costs[k].paramBytes, params);
      EXPECT_DOUBLE_EQ(costs[k].inputBytes, liveAcross(a));
      double outputs = 0;
      for (const Value *out : g->outputs())
        if (out->def && out->def->index >= a && out->def->index < b)
          outputs += out->isTensor() ? out->tensor.bytes() : 8;
      EXPECT_DOUBLE_EQ(costs[k].outputBytes, outputs);
      EXPECT_DOUBLE_EQ(costs[k].memoryBytes, params +
                                                 (activations + liveAcross(a)) *
                                                     opts.inFlight(k, costs.size()).front().full +
                                                 outputs * opts.microbatches);
    }
  }
}

TEST(Partitioner, CandidatesResolveToTheirPositionsAndNeverLeaveAStageEmpty) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 50; ++trial) {
    auto g = randomGraph(rng, 6 + trial % 9);
    std::vector<Candidate> cands = splitCandidates(*g);
    unsigned previous = 0;
    for (const Candidate &c : cands) {
      EXPECT_GT(c.position, previous) << c.name.str(); // ascending, so no two coincide
      EXPECT_LT(c.position, g->ops().size()) << c.name.str();
      EXPECT_EQ(splitPosition(*g, c.name), c.position) << c.name.str();
      EXPECT_FALSE(llvm::StringRef(c.name.path).endswith(".inner")) << c.name.str();
      previous = c.position;
    }
  }
}

TEST(Partitioner, CandidatesAreModuleBoundariesNotInsideControlFlow) {
  auto g = parseOrFail(R"(graph(%x : Tensor) {
  modules a, b, b.inner, c
  %v0 : Tensor = aten::relu(%x) @a
  %v1 : Tensor = prim::If(%v0) @b [blocks inner=b.inner]
  %v2 : Tensor = aten::relu(%v1) @c
  return (%v2)
}
)");
  EXPECT_EQ(candidateNames(*g), (std::vector<std::string>{"b:begin@1", "c:begin@2"}));
}

TEST(Partitioner, CandidateNamesPreferTheShallowestBegin) {
  auto g = parseOrFail(R"(graph(%x : Tensor) {
  modules emb, layers, layers.0, layers.0.fc, layers.1, layers.1.fc
  %v0 : Tensor = aten::embedding(%x) @emb
  %v1 : Tensor = aten::linear(%v0) @layers.0.fc
  %v2 : Tensor = aten::relu(%v1) @layers.0
  %v3 : Tensor = aten::linear(%v2) @layers.1.fc
  %v4 : Tensor = aten::relu(%v3) @layers.1
  %v5 : Tensor = aten::sum(%v4)
  return (%v5)
}
)");
  EXPECT_EQ(candidateNames(*g),
            (std::vector<std::string>{"layers:begin@1", "layers.0.fc:end@2", "layers.1:begin@3",
                                      "layers.1.fc:end@4", "layers:end@5"}));
}

TEST(Partitioner, TooFewPlacesToSplitIsAnError) {
  auto g = chain();
  PartitionOptions opts;
  opts.stages = 4;
  EXPECT_EQ(diagnose([&] { choosePartition(*g, opts); }),
            "cannot cut the model into 4 stages: it has 2 places between modules to split | "
            "ask for at most 3 stages");
}

TEST(Partitioner, UnmeetableMemoryCapNamesTheSmallestThatFits) {
  auto g = chain();
  PartitionOptions opts;
  opts.maxStageBytes = 1e6;
  // The best split, c:begin, needs 2 MB of c.w, its 4 kB input and activation,
  // and the 4 kB model output of each of 8 microbatches: 2.040 MB.
  EXPECT_EQ(diagnose([&] { choosePartition(*g, opts); }),
            "no split into 2 stages fits the memory cap of 1.0 MB per stage: the best needs "
            "2.0 MB in its largest stage | raise --max-stage-mb to at least 2.1, or use more "
            "stages");
}

TEST(Partitioner, UserSplitKeepsItsName) {
  auto g = chain();
  PartitionOptions opts;
  opts.stages = 3;
  opts.fixedSplits = {{"a", true}};
  EXPECT_EQ(names(choosePartition(*g, opts)), (std::vector<std::string>{"a:end", "c:begin"}));
}

TEST(Partitioner, UserSplitThatLeavesAStageEmptyIsAnError) {
  auto g = chain();
  PartitionOptions opts;
  opts.fixedSplits = {{"c", true}};
  EXPECT_EQ(diagnose([&] { choosePartition(*g, opts); }),
            "split c:end leaves a stage without ops | split between modules that compute "
            "something");
}

TEST(Partitioner, AutoRecomputesOnlyTheStagesOverTheCap) {
  auto g = chain();
  PartitionOptions opts;
  opts.stages = 2;
  opts.training = true;
  opts.stateBytesPerParamByte = 1;
  opts.inFlight = inFlightFor("gpipe", 8);
  std::vector<StageCost> kept = partitionCosts(*g, {2}, opts);
  opts.recompute = Recompute::All;
  std::vector<StageCost> recomputed = partitionCosts(*g, {2}, opts);
  for (size_t k = 0; k < 2; ++k) {
    const StageCost &c = recomputed[k];
    EXPECT_TRUE(c.recompute);
    double held = 2 * c.paramBytes + c.largestParamBytes + 8 * c.outputBytes;
    EXPECT_DOUBLE_EQ(c.memoryBytes, held + 8 * c.inputBytes + c.activationBytes);
    EXPECT_DOUBLE_EQ(kept[k].memoryBytes, held + 8 * (c.inputBytes + c.activationBytes));
    EXPECT_DOUBLE_EQ(stageWeight(c, opts), stageWeight(kept[k], opts) + c.forwardMs);
  }
  // A cap between stage 1's memory with and without recomputation, above stage 0's.
  ASSERT_LT(kept[0].memoryBytes, recomputed[1].memoryBytes);
  opts.recompute = Recompute::Auto;
  opts.maxStageBytes = (kept[1].memoryBytes + recomputed[1].memoryBytes) / 2;
  std::vector<StageCost> automatic = partitionCosts(*g, {2}, opts);
  EXPECT_FALSE(automatic[0].recompute);
  EXPECT_TRUE(automatic[1].recompute);
  EXPECT_LE(automatic[1].memoryBytes, opts.maxStageBytes);
}

TEST(Partitioner, WeightOnlyMicrobatchesHoldWhatWNeeds) {
  auto g = chain();
  for (const auto &op : g->ops()) { // I frees three quarters of every op's activations
    op->cost.activationBytes = 400;
    op->cost.weightKeptBytes = 100;
  }
  PartitionOptions opts;
  opts.stages = 2;
  opts.training = true;
  // Zero-bubble-like moments: two full, or one full and three between I and W.
  opts.inFlight = [](int, int) { return std::vector<InFlight>{{2, 0}, {1, 3}}; };
  for (const StageCost &c : partitionCosts(*g, {2}, opts)) {
    EXPECT_DOUBLE_EQ(c.weightKeptBytes, c.activationBytes / 4);
    double held = c.paramBytes + c.largestParamBytes + 8 * c.outputBytes;
    double kept = keptActivationBytes(c), forW = keptWeightBytes(c);
    double peak = std::max(2 * (kept + c.inputBytes), kept + 3 * forW + 4 * c.inputBytes);
    EXPECT_DOUBLE_EQ(c.memoryBytes, held + peak);
  }
}

TEST(Partitioner, InFlightFollowsTheSchedule) {
  InFlightFn gpipe = inFlightFor("gpipe", 8), oneFOneB = inFlightFor("1f1b", 3);
  EXPECT_EQ(gpipe(0, 4).front().full, 8);
  EXPECT_EQ(gpipe(3, 4).front().full, 8);
  std::vector<int> kept;
  for (int k = 0; k < 4; ++k)
    kept.push_back(oneFOneB(k, 4).front().full);
  EXPECT_EQ(kept, (std::vector<int>{3, 3, 2, 1}));
}

TEST(PartitionPlan, OneRowPerStageThenTheImbalance) {
  auto g = chain();
  PartitionOptions opts;
  opts.linkGBps = 1;
  EXPECT_TRUE(fileCheck(formatPlan(*g, {2}, opts), R"(
    CHECK: stage  compute ms  comm ms   time ms       params  param MB  activ. MB  memory MB  sends MB  modules
    CHECK-NEXT:     0       3.000    0.004     3.004       250000     1.000      0.008      1.016     0.004  a .. b
    CHECK-NEXT:     1       3.000    0.004     3.004       500000     2.000      0.004      2.040     0.000  c
    CHECK-NEXT: imbalance (slowest / mean time): 1.000)"));
}

/// A GPT-2-shaped model: `blocks` blocks `D` wide on `T` tokens (attention
/// projections, two matmuls, the MLP), ln_f and a 50257-word head, costed
/// analytically.
static std::unique_ptr<Graph> gpt2Shaped(int blocks, int64_t T, int64_t D) {
  const int64_t V = 50257, H = D / 64;
  std::string ir = "graph(%ids : Tensor:int64[1," + std::to_string(T) + "]) {\n  modules ";
  std::string mods = "transformer, transformer.wte, transformer.h";
  for (int b = 0; b < blocks; ++b)
    for (const char *m :
         {"", ".attn", ".attn.c_attn", ".attn.c_proj", ".mlp", ".mlp.c_fc", ".mlp.c_proj"})
      mods += ", transformer.h." + std::to_string(b) + m;
  ir += mods + ", transformer.ln_f, lm_head\n";
  auto dims = [](std::initializer_list<int64_t> ds) {
    std::string s;
    for (int64_t d : ds)
      s += (s.empty() ? "" : ",") + std::to_string(d);
    return "Tensor:float32[" + s + "]";
  };
  auto param = [&](const std::string &name, int64_t a, int64_t b) {
    ir += "  param $" + name + " : " + dims({a, b}) + "\n";
  };
  param("transformer.wte.weight", V, D);
  param("lm_head.weight", V, D);
  for (int b = 0; b < blocks; ++b) {
    std::string h = "transformer.h." + std::to_string(b);
    param(h + ".attn.c_attn.weight", 3 * D, D);
    param(h + ".attn.c_proj.weight", D, D);
    param(h + ".mlp.c_fc.weight", 4 * D, D);
    param(h + ".mlp.c_proj.weight", D, 4 * D);
  }
  int v = 0;
  auto op = [&](const std::string &type, const std::string &rhs) {
    ir += "  %v" + std::to_string(v) + " : " + type + " = " + rhs + "\n";
    return "%v" + std::to_string(v++);
  };
  std::string x =
      op(dims({1, T, D}), "aten::embedding($transformer.wte.weight, %ids) @transformer.wte");
  for (int b = 0; b < blocks; ++b) {
    std::string h = "transformer.h." + std::to_string(b);
    auto linear = [&](const std::string &in, int64_t out, const std::string &m) {
      return op(dims({1, T, out}),
                "aten::linear(" + in + ", $" + h + "." + m + ".weight) @" + h + "." + m);
    };
    std::string qkv = linear(x, 3 * D, "attn.c_attn");
    std::string q = op(dims({1, H, T, 64}), "aten::view(" + qkv + ") @" + h + ".attn");
    std::string kt = op(dims({1, H, 64, T}), "aten::view(" + qkv + ") @" + h + ".attn");
    std::string att = op(dims({1, H, T, T}), "aten::matmul(" + q + ", " + kt + ") @" + h + ".attn");
    std::string p = op(dims({1, H, T, T}), "aten::softmax(" + att + ") @" + h + ".attn");
    std::string ctx = op(dims({1, H, T, 64}), "aten::matmul(" + p + ", " + q + ") @" + h + ".attn");
    std::string merged = op(dims({1, T, D}), "aten::view(" + ctx + ") @" + h + ".attn");
    std::string proj = linear(merged, D, "attn.c_proj");
    std::string res = op(dims({1, T, D}), "aten::add(" + x + ", " + proj + ") @" + h);
    std::string fc = linear(res, 4 * D, "mlp.c_fc");
    std::string act = op(dims({1, T, 4 * D}), "aten::gelu(" + fc + ") @" + h + ".mlp");
    x = op(dims({1, T, D}), "aten::add(" + res + ", " + linear(act, D, "mlp.c_proj") + ") @" + h);
  }
  x = op(dims({1, T, D}), "aten::layer_norm(" + x + ") @transformer.ln_f");
  std::string logits = op(dims({1, T, V}), "aten::linear(" + x + ", $lm_head.weight) @lm_head");
  ir += "  return (" + logits + ")\n}\n";
  auto g = parseOrFail(ir);
  registerParams(*g);
  annotateAnalyticCosts(*g);
  return g;
}

/// The slowest stage of the partitioner's choice, DeepSpeed's uniform and
/// DeepSpeed's parameter split, in that order.
static std::vector<double> slowestStages(const Graph &g, int stages) {
  PartitionOptions opts;
  opts.stages = stages;
  return {chosenObjective(g, opts),
          partitionObjective(g, splitPositions(g, uniformBlockSplit(g, stages)), opts),
          partitionObjective(g, splitPositions(g, parameterSplit(g, stages)), opts)};
}

TEST(Partitioner, BeatsUniformAndParameterSplitsOnASmallGPT2WithALargeHead) {
  auto g = gpt2Shaped(4, 32, 64);
  for (int stages : {2, 4}) {
    std::vector<double> slowest = slowestStages(*g, stages);
    EXPECT_LT(slowest[0], slowest[1]) << stages << " stages";
    EXPECT_LT(slowest[0], slowest[2]) << stages << " stages";
  }
}

TEST(Partitioner, BeatsUniformAndParameterSplitsOnGPT2Small) {
  auto g = gpt2Shaped(12, 64, 768);
  for (int stages : {2, 4}) {
    std::vector<double> slowest = slowestStages(*g, stages);
    EXPECT_LT(slowest[0], slowest[1]) << stages << " stages";
    EXPECT_LT(slowest[0], slowest[2]) << stages << " stages";
  }
}

TEST(Partitioner, UniformSplitCountsTheMostNumerousBlocks) {
  auto g = gpt2Shaped(12, 8, 64);
  EXPECT_EQ(names(uniformBlockSplit(*g, 4)),
            (std::vector<std::string>{"transformer.h.3:begin", "transformer.h.6:begin",
                                      "transformer.h.9:begin"}));
}

TEST(Partitioner, UniformSplitGivesTheRemainderToEarlierStages) {
  auto g = gpt2Shaped(10, 8, 64);
  EXPECT_EQ(names(uniformBlockSplit(*g, 4, "transformer.h")),
            (std::vector<std::string>{"transformer.h.3:begin", "transformer.h.6:begin",
                                      "transformer.h.8:begin"}));
}

TEST(Partitioner, UniformSplitNeedsAsManyBlocksAsStages) {
  auto g = gpt2Shaped(2, 8, 64);
  EXPECT_EQ(diagnose([&] { uniformBlockSplit(*g, 3); }),
            "a uniform split into 3 stages needs 3 numbered blocks; 'transformer.h' has 2 | use "
            "fewer stages or another balance");
}

TEST(Partitioner, ParameterSplitBalancesParameterBytes) {
  auto g = gpt2Shaped(6, 8, 64);
  PartitionOptions opts;
  opts.stages = 3;
  opts.balance = Balance::Params;
  opts.linkGBps = 0;
  EXPECT_DOUBLE_EQ(partitionObjective(*g, splitPositions(*g, parameterSplit(*g, 3)), opts),
                   bruteForce(*g, opts));
}

TEST(Partitioner, StageCostsOfAPartitionedGraphAreItsPartitionCosts) {
  // A tuple built in stage 0 goes to stages 1 and 2: sent twice, with both tensors.
  auto g = parseOrFail(R"(graph(%x : Tensor:float32[4,8]) {
stage 0:
  %v0 : Tensor:float32[4,8] = aten::relu(%x) @a
  %v1 : Tensor:float32[4,8] = aten::tanh(%x) @a
  %v2 : (Tensor, Tensor) = prim::TupleConstruct(%v0, %v1) @a
stage 1:
  %v3 : Tensor:float32[4,8] = aten::sigmoid(%v0) @b
  %v4 : int = aten::len(%v2) @b
stage 2:
  %v5 : Tensor = aten::add(%v3, %v2) @c
  return (%v5)
}
)");
  annotateAnalyticCosts(*g);
  findCrossStageValues(*g);
  PartitionOptions opts;
  std::vector<StageCost> got = stageCosts(*g, opts);
  std::vector<StageCost> want = partitionCosts(*g, {3, 5}, opts);
  ASSERT_EQ(got.size(), 3u);
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_DOUBLE_EQ(got[k].computeMs, want[k].computeMs);
    EXPECT_DOUBLE_EQ(got[k].activationBytes, want[k].activationBytes);
    EXPECT_DOUBLE_EQ(got[k].boundaryBytesOut, want[k].boundaryBytesOut);
  }
  EXPECT_DOUBLE_EQ(got[0].activationBytes, 2 * 128); // the tuple allocates nothing
  EXPECT_DOUBLE_EQ(got[0].boundaryBytesOut, 128 + 256);
  EXPECT_DOUBLE_EQ(got[0].sendBytes, 128 + 2 * 256); // v0 to stage 1; the tuple to 1 and 2
  EXPECT_DOUBLE_EQ(got[1].boundaryBytesOut, 256 + 128);
  EXPECT_DOUBLE_EQ(got[1].sendBytes, 128);
  EXPECT_DOUBLE_EQ(got[2].sendBytes, 0);
}
