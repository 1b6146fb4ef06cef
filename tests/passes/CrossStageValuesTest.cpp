//===- tests/passes/CrossStageValuesTest.cpp - Skip edges and interfaces --===//
#include "passes/CrossStageValues.h"
#include "ir/Printer.h"
#include "tests/ir/FileCheck.h"

using namespace ppc;
using namespace ppc::testing;

// A U-Net-like chain: %v0 is used two stages later, an int crosses too.
static const char *kSkip = R"(graph(%x : Tensor, %mask : Tensor) {
  param $enc.weight : Tensor
  const #c0 : int = 1
stage 0:
  %v0 : Tensor = aten::conv2d(%x, $enc.weight) @enc
  %v1 : int = aten::size(%v0, #c0) @enc
stage 1:
  %v2 : Tensor = aten::relu(%v0) @mid
stage 2:
  %v3 : Tensor = aten::cat(%v2, %v0, %v1) @dec
  %v4 : Tensor = aten::mul(%v3, %mask) @dec
  return (%v4, %v1)
}
)";

static std::string analyse(const char *ir) {
  auto g = parseOrFail(ir);
  findCrossStageValues(*g);
  std::string text = graphToString(*g, {false, false, true});
  for (int k = 0; k < g->numStages; ++k) {
    text += "interface " + std::to_string(k) + ":";
    for (Value *v : g->stageInterfaces[k].inputs)
      text += " in=" + v->name;
    for (Value *v : g->stageInterfaces[k].outputs)
      text += " out=" + v->name;
    text += "\n";
  }
  return text;
}

TEST(CrossStageValues, SkipEdgeGoesStraightToConsumer) {
  EXPECT_TRUE(fileCheck(analyse(kSkip), R"(
    CHECK: cross-stage values:
    CHECK: %x : Tensor  input -> 0
    CHECK-NEXT: %mask : Tensor  input -> 2
    CHECK-NEXT: %v0 : Tensor  stage 0 -> 1, 2  skip
    CHECK-NEXT: %v1 : int  stage 0 -> 2  skip
    CHECK-NEXT: %v2 : Tensor  stage 1 -> 2
    CHECK-NOT: $enc.weight
    CHECK-NOT: #c0)"));
}

TEST(CrossStageValues, StageInterfacesListModelInputsFirst) {
  EXPECT_TRUE(fileCheck(analyse(kSkip), R"(
    CHECK: interface 0: in=x out=v0 out=v1
    CHECK-NEXT: interface 1: in=v0 out=v2
    CHECK-NEXT: interface 2: in=mask in=v0 in=v1 in=v2 out=v4)"));
}

TEST(CrossStageValues, ModelOutputFromEarlierStageIsReturnedByItsProducer) {
  auto g = parseOrFail(kSkip);
  findCrossStageValues(*g);
  // %v1 is both a model output and a skip input of stage 2; stage 0 returns it once.
  EXPECT_EQ(g->outputStage(*g->lookup("v1")), 0);
  EXPECT_EQ(g->stageInterfaces[0].outputs.size(), 2u);
}

TEST(CrossStageValues, ReturnedModelInputComesFromTheLastStage) {
  auto g = parseOrFail(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor = aten::relu(%x) @a
stage 1:
  %v1 : Tensor = aten::relu(%v0) @b
  return (%v1, %x)
}
)");
  findCrossStageValues(*g);
  EXPECT_TRUE(fileCheck(graphToString(*g, {false, false, true}), R"(
    CHECK: %x : Tensor  input -> 0, 1)"));
  EXPECT_EQ(g->stageInterfaces[1].outputs.back()->name, "x");
}
