//===- tests/passes/CostModelTest.cpp - Golden tests of the cost model ----===//
//
// Each test parses a few ops with known shapes, runs annotateAnalyticCosts
// and checks the exact FLOPs and bytes the formulas give.
//
//===----------------------------------------------------------------------===//
#include "passes/CostModel.h"
#include "tests/ir/FileCheck.h"

using namespace ppc;
using namespace ppc::testing;

namespace {

struct Annotated {
  std::unique_ptr<Graph> graph;
  CostSummary summary;
  const OpCost &cost(unsigned i) const { return graph->ops()[i]->cost; }
};

Annotated annotate(const std::string &ir) {
  Annotated a{parseOrFail(ir), {}};
  a.summary = annotateAnalyticCosts(*a.graph);
  return a;
}

} // namespace

TEST(CostModel, LinearIsTwoMKN) {
  auto a = annotate(R"(graph(%x : Tensor:float32[8,32,64]) {
  param $fc.weight : Tensor:float32[256,64]
  param $fc.bias : Tensor:float32[256]
  %v0 : Tensor:float32[8,32,256] = aten::linear(%x, $fc.weight, $fc.bias) @fc
  return (%v0)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 2.0 * (8 * 32) * 64 * 256);
  EXPECT_DOUBLE_EQ(a.cost(0).bytes, 4.0 * (8 * 32 * 64 + 256 * 64 + 256 + 8 * 32 * 256));
}

TEST(CostModel, LinearTakesAnUnshapedWeightFromTheParameterTable) {
  auto g = parseOrFail(R"(graph(%x : Tensor:float32[4,64]) {
  param $fc.weight : Tensor
  %v0 : Tensor:float32[4,256] = aten::linear(%x, $fc.weight) @fc
  return (%v0)
})");
  g->params.push_back({"fc.weight", true, false, {"float32", {256, 64}, true}});
  annotateAnalyticCosts(*g);
  EXPECT_DOUBLE_EQ(g->ops()[0]->cost.flops, 2.0 * 4 * 64 * 256);
}

TEST(CostModel, AddmmMultipliesItsSecondAndThirdInputs) {
  auto a = annotate(
      R"(graph(%b : Tensor:float32[16], %m1 : Tensor:float32[4,8], %m2 : Tensor:float32[8,16]) {
  %v0 : Tensor:float32[4,16] = aten::addmm(%b, %m1, %m2) @fc
  return (%v0)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 2.0 * 4 * 8 * 16);
}

TEST(CostModel, MatmulBroadcastsBatchDims) {
  auto a = annotate(
      R"(graph(%a : Tensor:float32[2,1,8,16], %b : Tensor:float32[3,16,4], %v : Tensor:float32[16]) {
  %v0 : Tensor:float32[2,3,8,4] = aten::matmul(%a, %b) @m
  %v1 : Tensor:float32[3,4] = aten::matmul(%v, %b) @m
  return (%v0, %v1)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 2.0 * (2 * 3) * 8 * 16 * 4);
  EXPECT_DOUBLE_EQ(a.cost(1).flops, 2.0 * 3 * 16 * 4);
}

TEST(CostModel, BmmCountsEveryBatch) {
  auto a = annotate(R"(graph(%a : Tensor:float32[5,4,8], %b : Tensor:float32[5,8,3]) {
  %v0 : Tensor:float32[5,4,3] = aten::bmm(%a, %b) @m
  return (%v0)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 2.0 * 5 * 4 * 8 * 3);
}

TEST(CostModel, ConvCountsInputChannelsPerGroup) {
  auto a = annotate(R"(graph(%x : Tensor:float32[2,8,16,16], %s : Tensor:float32[2,3,10]) {
  param $conv.weight : Tensor:float32[16,4,3,3]
  param $conv1.weight : Tensor:float32[6,3,5]
  const #c0 : int = 2
  %v0 : Tensor:float32[2,16,14,14] = aten::conv2d(%x, $conv.weight, #c0) @conv
  %v1 : Tensor:float32[2,6,6] = aten::conv1d(%s, $conv1.weight) @conv1
  return (%v0, %v1)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 2.0 * (2 * 16 * 14 * 14) * 4 * 3 * 3);
  EXPECT_DOUBLE_EQ(a.cost(1).flops, 2.0 * (2 * 6 * 6) * 3 * 5);
}

TEST(CostModel, TransposedConvCountsInputElements) {
  auto a = annotate(R"(graph(%x : Tensor:float32[1,4,8,8]) {
  param $up.weight : Tensor:float32[4,2,3,3]
  %v0 : Tensor:float32[1,2,10,10] = aten::conv_transpose2d(%x, $up.weight) @up
  return (%v0)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 2.0 * (4 * 8 * 8) * 2 * 3 * 3);
}

TEST(CostModel, AttentionIsTwoMatmulsAndASoftmax) {
  auto a = annotate(
      R"(graph(%q : Tensor:float32[2,4,16,8], %k : Tensor:float32[2,4,32,8], %v : Tensor:float32[2,4,32,8]) {
  %v0 : Tensor:float32[2,4,16,8] = aten::scaled_dot_product_attention(%q, %k, %v) @attn
  return (%v0)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 2.0 * 4 * 16 * 32 * (2 * 8 + 2 * 8 + 5));
}

TEST(CostModel, EmbeddingMovesBytesWithoutFlops) {
  auto a = annotate(R"(graph(%ids : Tensor:int64[2,16]) {
  param $wte.weight : Tensor:float32[50257,64]
  %v0 : Tensor:float32[2,16,64] = aten::embedding($wte.weight, %ids) @wte
  return (%v0)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 0);
  EXPECT_DOUBLE_EQ(a.cost(0).bytes, 8.0 * 2 * 16 + 2 * 4.0 * (2 * 16 * 64));
  EXPECT_EQ(a.summary.known, 1u);
}

TEST(CostModel, SoftmaxAndNormalisationsCostPerElement) {
  auto a = annotate(R"(graph(%x : Tensor:float32[4,10]) {
  %v0 : Tensor:float32[4,10] = aten::softmax(%x) @s
  %v1 : Tensor:float32[4,10] = aten::layer_norm(%v0) @ln
  %v2 : Tensor:float32[4,10] = aten::group_norm(%v1) @gn
  return (%v2)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 5.0 * 40);
  EXPECT_DOUBLE_EQ(a.cost(1).flops, 8.0 * 40);
  EXPECT_DOUBLE_EQ(a.cost(2).flops, 8.0 * 40);
}

TEST(CostModel, ElementwiseCountsOutputElements) {
  auto a = annotate(R"(graph(%x : Tensor:float32[4,1], %y : Tensor:float32[1,8]) {
  %v0 : Tensor:float32[4,8] = aten::add(%x, %y) @e
  %v1 : Tensor:float32[4,8] = aten::gelu(%v0) @e
  return (%v1)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 32);
  EXPECT_DOUBLE_EQ(a.cost(0).bytes, 4.0 * (4 + 8 + 32));
  EXPECT_DOUBLE_EQ(a.cost(1).flops, 32);
}

TEST(CostModel, ReductionCountsInputElements) {
  auto a = annotate(R"(graph(%x : Tensor:float32[4,8]) {
  %v0 : Tensor:float32[4] = aten::sum(%x) @r
  %v1 : Tensor:float32[] = aten::mean(%v0) @r
  return (%v1)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 32);
  EXPECT_DOUBLE_EQ(a.cost(1).flops, 4);
}

TEST(CostModel, ViewsAndBookkeepingCostNothing) {
  auto a = annotate(R"(graph(%x : Tensor:float32[4,8]) {
  const #c0 : int = 0
  %v0 : Tensor:float32[32] = aten::view(%x) @v
  %v1 : int = aten::size(%x, #c0) @v
  %v2 : int[] = prim::ListConstruct(%v1, %v1) @v
  %v3 : Tensor:float32[4,8] = aten::reshape(%v0, %v2) @v
  return (%v3)
})");
  for (unsigned i = 0; i < 4; ++i) {
    EXPECT_DOUBLE_EQ(a.cost(i).flops, 0) << i;
    EXPECT_DOUBLE_EQ(a.cost(i).bytes, 0) << i;
  }
  EXPECT_EQ(a.summary.known, 4u);
  EXPECT_EQ(a.summary.unknown, 0u);
}

TEST(CostModel, CopiesMoveBytesWithoutFlops) {
  auto a = annotate(R"(graph(%x : Tensor:float32[4,8]) {
  %v0 : Tensor:float32[4,8] = aten::contiguous(%x) @c
  return (%v0)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).flops, 0);
  EXPECT_DOUBLE_EQ(a.cost(0).bytes, 2 * 4.0 * 32);
}

TEST(CostModel, UnknownShapesAndControlFlowAreCountedNotGuessed) {
  auto a = annotate(R"(graph(%x : Tensor) {
  modules fc, gate, gate.inner
  param $fc.weight : Tensor:float32[16,8]
  %v0 : Tensor = aten::linear(%x, $fc.weight) @fc
  %v1 : Tensor:float32[4,16] = prim::If(%v0) @gate [blocks inner=gate.inner]
  %v2 : Tensor:float32[4,16] = aten::relu(%v1) @gate
  return (%v2)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).timeMs, 0);
  EXPECT_DOUBLE_EQ(a.cost(1).timeMs, 0);
  EXPECT_DOUBLE_EQ(a.cost(2).flops, 64);
  EXPECT_EQ(a.summary.unknown, 2u);
  EXPECT_EQ(a.summary.known, 1u);
}

TEST(CostModel, RooflineTimeIsTheSlowerOfComputeAndMemory) {
  Roofline r; // 50 GFLOP/s, 10 GB/s
  EXPECT_DOUBLE_EQ(r.timeMs(1e9, 1e6), 20.0);
  EXPECT_DOUBLE_EQ(r.timeMs(1e6, 1e9), 100.0);
  auto a = annotate(R"(graph(%x : Tensor:float32[64,512]) {
  param $fc.weight : Tensor:float32[512,512]
  %v0 : Tensor:float32[64,512] = aten::linear(%x, $fc.weight) @fc
  %v1 : Tensor:float32[64,512] = aten::relu(%v0) @act
  return (%v1)
})");
  EXPECT_DOUBLE_EQ(a.cost(0).timeMs, a.cost(0).flops / 50e9 * 1e3); // compute-bound
  EXPECT_DOUBLE_EQ(a.cost(1).timeMs, a.cost(1).bytes / 10e9 * 1e3); // memory-bound
}

TEST(CostModel, TransferBytesCountScalarsAsEightBytes) {
  auto g = parseOrFail(R"(graph(%x : Tensor:float16[4,8], %n : int, %y : Tensor) {
  return (%x)
})");
  EXPECT_EQ(transferBytes(*g->inputs()[0]), 2 * 32);
  EXPECT_EQ(transferBytes(*g->inputs()[1]), 8);
  EXPECT_EQ(transferBytes(*g->inputs()[2]), 8);
}

TEST(CostModel, TransferBytesCountEveryTensorInsideTuplesAndLists) {
  // GPT-2's presents: a tuple of (key, value) tuples crosses the boundary whole.
  auto g = parseOrFail(R"(graph(%k : Tensor:float32[2,4,8], %v : Tensor:float32[2,4,8], %n : int) {
  %v0 : (Tensor, Tensor) = prim::TupleConstruct(%k, %v)
  %v1 : Tensor[] = prim::ListConstruct(%k, %v, %k)
  %v2 : ((Tensor, Tensor), Tensor[], int) = prim::TupleConstruct(%v0, %v1, %n)
  return (%v2)
})");
  const Op &pair = *g->ops()[0], &list = *g->ops()[1], &nested = *g->ops()[2];
  EXPECT_EQ(transferBytes(*pair.results[0]), 2 * 4 * 64);
  EXPECT_EQ(transferBytes(*list.results[0]), 3 * 4 * 64);
  EXPECT_EQ(transferBytes(*nested.results[0]), 5 * 4 * 64 + 8);
}
