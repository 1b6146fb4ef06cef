//===- tests/passes/PlaceSplitsTest.cpp - Golden tests of PlaceSplits -----===//
#include "passes/PlaceSplits.h"
#include "ir/Diagnostics.h"
#include "ir/Printer.h"
#include "tests/ir/FileCheck.h"

using namespace ppc;
using namespace ppc::testing;

static const char *kThreeLayers = R"(graph(%x : Tensor) {
  modules emb, layers, layers.0, layers.0.fc, layers.1, layers.1.fc, layers.2, head
  %v0 : Tensor = aten::embedding(%x) @emb
  %v1 : Tensor = aten::linear(%v0) @layers.0.fc
  %v2 : Tensor = aten::relu(%v1) @layers.0
  %v3 : Tensor = aten::linear(%v2) @layers.1.fc
  %v4 : Tensor = prim::If(%v3) @layers.2 [blocks inner=layers.2.inner]
  %v5 : Tensor = aten::linear(%v4) @head
  return (%v5)
}
)";

static std::string partition(const char *ir, llvm::StringRef spec) {
  auto g = parseOrFail(ir);
  g->splits = parseSplitSpec(spec);
  placeSplits(*g);
  return graphToString(*g, {false, false, false});
}

static std::string diagnose(const char *ir, llvm::StringRef spec) {
  try {
    partition(ir, spec);
  } catch (const CompileError &e) {
    return std::string(e.what()) + " | " + e.hint;
  }
  return "no error";
}

TEST(PlaceSplits, BeginCutsBeforeFirstOpOfModule) {
  EXPECT_TRUE(fileCheck(partition(kThreeLayers, "layers.1:begin"), R"(
    CHECK: stage 0:
    CHECK: aten::relu(%v1) @layers.0
    CHECK-NEXT: stage 1:
    CHECK-NEXT: aten::linear(%v2) @layers.1.fc)"));
}

TEST(PlaceSplits, EndCutsAfterLastOpOfModule) {
  EXPECT_TRUE(fileCheck(partition(kThreeLayers, "layers.0:end,emb:end"), R"(
    CHECK: stage 0:
    CHECK-NEXT: @emb
    CHECK-NEXT: stage 1:
    CHECK-NEXT: @layers.0.fc
    CHECK-NEXT: @layers.0
    CHECK-NEXT: stage 2:
    CHECK-NEXT: @layers.1.fc)"));
}

TEST(PlaceSplits, UnknownPathNamesClosest) {
  EXPECT_EQ(diagnose(kThreeLayers, "layer.1:begin"),
            "unknown module path 'layer.1' in split layer.1:begin | closest module paths: "
            "layers.1, layers, layers.0");
}

TEST(PlaceSplits, BadPositionWord) {
  EXPECT_EQ(diagnose(kThreeLayers, "layers.1:start"),
            "bad split point 'layers.1:start': expected PATH:begin or PATH:end | e.g. --split "
            "transformer.h.2:begin");
}

TEST(PlaceSplits, SameSplitTwice) {
  EXPECT_EQ(diagnose(kThreeLayers, "layers.1:begin,layers.1:begin"),
            "split point layers.1:begin is given twice | give each point once");
}

TEST(PlaceSplits, CoincidingPointsLeaveEmptyStage) {
  EXPECT_EQ(diagnose(kThreeLayers, "layers.0:end,layers.1:begin"),
            "split points layers.0:end and layers.1:begin are the same point, which would leave "
            "a stage without ops | drop one of them");
}

TEST(PlaceSplits, InsideControlFlowNamesEnclosingModule) {
  EXPECT_EQ(diagnose(kThreeLayers, "layers.2.inner:begin"),
            "split layers.2.inner:begin is inside control flow (prim::If in module 'layers.2') | "
            "split at layers.2:begin or layers.2:end instead");
}

TEST(PlaceSplits, SplitBeforeEverythingIsEmptyStage) {
  EXPECT_EQ(diagnose(kThreeLayers, "emb:begin"),
            "split emb:begin leaves a stage without ops | split between modules that compute "
            "something");
}
