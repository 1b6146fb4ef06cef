//===- tests/passes/PartitionerTest.cpp - The DP partitioner --------------===//
//
// Optimality against brute force on random synthetic graphs (with memory
// caps and fixed splits), candidate placement, analytic FLOPs, and a
// GPT-2-shaped model with a 50257-word head where the chosen partition beats
// DeepSpeed's uniform and parameter-count splits.
//
//===----------------------------------------------------------------------===//
#include "passes/Partitioner.h"
#include "ir/Diagnostics.h"
#include "ir/Printer.h"
#include "passes/CostModel.h"
#include "tests/ir/FileCheck.h"

#include <functional>
#include <random>

using namespace ppc;
using namespace ppc::testing;

namespace {

/// A chain of `count` modules m0..m{count-1}, each with 1-3 ops of random
/// cost; some values skip ahead; each module reads one parameter.
std::unique_ptr<Graph> randomChain(std::mt19937 &rng, int count) {
  auto g = std::make_unique<Graph>();
  Value *x = g->addInput("x", "Tensor");
  x->tensor = {"float32", {4}, true};
  std::vector<Value *> produced{x};
  std::uniform_real_distribution<double> cost(0.1, 5.0);
  std::uniform_int_distribution<int> opsPerModule(1, 3), width(1, 64);
  for (int m = 0; m < count; ++m) {
    std::string path = "m" + std::to_string(m);
    g->modules.push_back(path);
    Value *w = g->addParam(path + ".weight", "Tensor");
    g->params.push_back({path + ".weight", true, false, {"float32", {width(rng) * 1000}, true}});
    int n = opsPerModule(rng);
    for (int i = 0; i < n; ++i) {
      std::uniform_int_distribution<size_t> pick(0, produced.size() - 1);
      Op *op =
          g->addOp("aten::linear", path, {produced.back(), produced[pick(rng)], w}, {"Tensor"});
      op->cost.timeMs = cost(rng);
      op->results[0]->tensor = {"float32", {width(rng) * 256}, true};
      produced.push_back(op->results[0]);
    }
  }
  g->addOutput(produced.back());
  return g;
}

/// The best objective over every choice of stages-1 candidates.
double bruteForce(const Graph &g, const PartitionOptions &opts) {
  std::vector<Candidate> cands = splitCandidates(g);
  std::vector<unsigned> fixed = splitPositions(g, opts.fixedSplits);
  double best = std::numeric_limits<double>::infinity();
  std::vector<unsigned> chosen;
  std::function<void(size_t)> choose = [&](size_t from) {
    if (int(chosen.size()) == opts.stages - 1) {
      for (unsigned f : fixed)
        if (!llvm::is_contained(chosen, f))
          return;
      best = std::min(best, partitionObjective(g, chosen, opts));
      return;
    }
    for (size_t i = from; i < cands.size(); ++i) {
      chosen.push_back(cands[i].position);
      choose(i + 1);
      chosen.pop_back();
    }
  };
  choose(0);
  return best;
}

double chosenObjective(const Graph &g, const PartitionOptions &opts) {
  return partitionObjective(g, splitPositions(g, choosePartition(g, opts)), opts);
}

} // namespace

TEST(Partitioner, MatchesBruteForceOnRandomChains) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 40; ++trial) {
    auto g = randomChain(rng, 8 + trial % 7);
    for (int stages = 2; stages <= 4; ++stages) {
      PartitionOptions opts;
      opts.stages = stages;
      opts.linkGBps = 0.001 * (1 + trial % 3); // communication matters
      EXPECT_DOUBLE_EQ(chosenObjective(*g, opts), bruteForce(*g, opts))
          << "trial " << trial << " stages " << stages;
    }
  }
}

TEST(Partitioner, MatchesBruteForceUnderAMemoryCap) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 20; ++trial) {
    auto g = randomChain(rng, 10);
    PartitionOptions opts;
    opts.stages = 3;
    opts.maxStageBytes = 260e3 + 20e3 * trial;
    double best = bruteForce(*g, opts);
    if (best == std::numeric_limits<double>::infinity()) {
      EXPECT_THROW(choosePartition(*g, opts), CompileError);
      continue;
    }
    EXPECT_DOUBLE_EQ(chosenObjective(*g, opts), best) << "trial " << trial;
  }
}

TEST(Partitioner, KeepsUserSplitsAndChoosesTheRest) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    auto g = randomChain(rng, 10);
    PartitionOptions opts;
    opts.stages = 4;
    opts.fixedSplits = {{"m5", false}};
    std::vector<SplitPoint> splits = choosePartition(*g, opts);
    EXPECT_TRUE(llvm::any_of(splits, [](const SplitPoint &s) { return s.str() == "m5:begin"; }));
    EXPECT_DOUBLE_EQ(partitionObjective(*g, splitPositions(*g, splits), opts),
                     bruteForce(*g, opts));
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
  std::vector<std::string> names;
  for (const Candidate &c : splitCandidates(*g))
    names.push_back(c.name.str() + "@" + std::to_string(c.position));
  EXPECT_EQ(names, (std::vector<std::string>{"b:begin@1", "c:begin@2"}));
}

TEST(CostModel, LinearAndConvFlopsFromShapes) {
  auto g = parseOrFail(R"(graph(%x : Tensor:float32[8,32,64], %img : Tensor:float32[2,3,32,32]) {
  param $fc.weight : Tensor:float32[256,64]
  param $conv.weight : Tensor:float32[16,3,3,3]
  %v0 : Tensor:float32[8,32,256] = aten::linear(%x, $fc.weight) @fc
  %v1 : Tensor:float32[2,16,32,32] = aten::conv2d(%img, $conv.weight) @conv
  %v2 : Tensor:float32[8,32,256] = aten::relu(%v0) @act
  %v3 : Tensor:float32[8,32,256] = aten::view(%v2) @act
  return (%v3, %v1)
}
)");
  annotateAnalyticCosts(*g);
  EXPECT_DOUBLE_EQ(g->ops()[0]->cost.flops, 2.0 * 8 * 32 * 256 * 64);
  EXPECT_DOUBLE_EQ(g->ops()[1]->cost.flops, 2.0 * 2 * 16 * 32 * 32 * 3 * 3 * 3);
  EXPECT_DOUBLE_EQ(g->ops()[2]->cost.flops, 8.0 * 32 * 256);
  EXPECT_DOUBLE_EQ(g->ops()[3]->cost.timeMs, 0.0);
  EXPECT_DOUBLE_EQ(g->ops()[0]->cost.bytes, 4.0 * (8 * 32 * 64 + 256 * 64 + 8 * 32 * 256));
}

/// GPT-2 small's shape (12 blocks, 768 wide, 64 tokens) with a 50257-word head.
static std::unique_ptr<Graph> gpt2Shaped() {
  const int64_t T = 64, D = 768, V = 50257;
  std::string ir = "graph(%ids : Tensor:int64[1," + std::to_string(T) + "]) {\n  modules ";
  std::string mods = "transformer, transformer.wte, transformer.h";
  for (int b = 0; b < 12; ++b)
    for (const char *m :
         {"", ".attn", ".attn.c_attn", ".attn.c_proj", ".mlp", ".mlp.c_fc", ".mlp.c_proj"})
      mods += ", transformer.h." + std::to_string(b) + m;
  ir += mods + ", transformer.ln_f, lm_head\n";
  auto shape = [&](int64_t a, int64_t b) {
    return "Tensor:float32[1," + std::to_string(a) + "," + std::to_string(b) + "]";
  };
  auto param = [&](const std::string &name, int64_t a, int64_t b) {
    ir += "  param $" + name + " : Tensor:float32[" + std::to_string(a) + "," + std::to_string(b) +
          "]\n";
  };
  param("transformer.wte.weight", V, D);
  param("lm_head.weight", V, D);
  for (int b = 0; b < 12; ++b) {
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
      op(shape(T, D), "aten::embedding($transformer.wte.weight, %ids) @transformer.wte");
  for (int b = 0; b < 12; ++b) {
    std::string h = "transformer.h." + std::to_string(b);
    std::string qkv = op(shape(T, 3 * D), "aten::linear(" + x + ", $" + h +
                                              ".attn.c_attn.weight) @" + h + ".attn.c_attn");
    std::string att =
        op("Tensor:float32[1,12,64,64]", "aten::matmul(" + qkv + ", " + qkv + ") @" + h + ".attn");
    std::string ctx = op(shape(T, D), "aten::matmul(" + att + ", " + qkv + ") @" + h + ".attn");
    std::string proj = op(shape(T, D), "aten::linear(" + ctx + ", $" + h +
                                           ".attn.c_proj.weight) @" + h + ".attn.c_proj");
    std::string fc = op(shape(T, 4 * D), "aten::linear(" + proj + ", $" + h +
                                             ".mlp.c_fc.weight) @" + h + ".mlp.c_fc");
    x = op(shape(T, D),
           "aten::linear(" + fc + ", $" + h + ".mlp.c_proj.weight) @" + h + ".mlp.c_proj");
  }
  x = op(shape(T, D), "aten::layer_norm(" + x + ") @transformer.ln_f");
  std::string logits = op(shape(T, V), "aten::linear(" + x + ", $lm_head.weight) @lm_head");
  ir += "  return (" + logits + ")\n}\n";
  auto g = parseOrFail(ir);
  for (const auto &val : g->values())
    if (val->kind == ValueKind::Param)
      g->params.push_back({val->name, true, false, val->tensor});
  annotateAnalyticCosts(*g);
  return g;
}

TEST(Partitioner, BeatsUniformAndParameterSplitsOnGPT2WithALargeHead) {
  auto g = gpt2Shaped();
  for (int stages : {2, 4}) {
    PartitionOptions opts;
    opts.stages = stages;
    double chosen = chosenObjective(*g, opts);
    double uniform =
        partitionObjective(*g, splitPositions(*g, uniformBlockSplit(*g, stages)), opts);
    double params = partitionObjective(*g, splitPositions(*g, parameterSplit(*g, stages)), opts);
    EXPECT_LT(chosen, uniform) << stages << " stages";
    EXPECT_LT(chosen, params) << stages << " stages";
  }
}

TEST(Partitioner, UniformSplitCountsBlocks) {
  auto g = gpt2Shaped();
  std::vector<std::string> names;
  for (const SplitPoint &s : uniformBlockSplit(*g, 4))
    names.push_back(s.str());
  EXPECT_EQ(names, (std::vector<std::string>{"transformer.h.3:begin", "transformer.h.6:begin",
                                             "transformer.h.9:begin"}));
}
