//===- tests/passes/AssignParametersTest.cpp - Parameter ownership --------===//
#include "passes/AssignParameters.h"
#include "ir/Diagnostics.h"
#include "passes/CrossStageValues.h"
#include "tests/ir/FileCheck.h"

using namespace ppc;
using namespace ppc::testing;

static const char *kTiedLM = R"(graph(%ids : Tensor) {
  param $wte.weight : Tensor
  param $h.0.weight : Tensor
  param $head.weight : Tensor
stage 0:
  %v0 : Tensor = aten::embedding($wte.weight, %ids) @wte
  %v1 : Tensor = aten::linear(%v0, $h.0.weight) @h.0
stage 1:
  %v2 : Tensor = aten::linear(%v1, $head.weight) @head
  return (%v2)
}
)";

static std::unique_ptr<Graph> tiedGraph() {
  auto g = parseOrFail(kTiedLM);
  for (const char *name : {"wte.weight", "h.0.weight", "head.weight"})
    g->params.push_back({name, true, false, {}});
  g->ties.push_back({{"wte.weight", "head.weight"}, {}});
  findCrossStageValues(*g);
  return g;
}

TEST(AssignParameters, EachStageGetsExactlyWhatItReads) {
  auto g = tiedGraph();
  assignParameters(*g);
  EXPECT_EQ(g->stageInterfaces[0].parameters,
            (std::vector<std::string>{"wte.weight", "h.0.weight"}));
  EXPECT_EQ(g->stageInterfaces[1].parameters, std::vector<std::string>{"head.weight"});
}

TEST(AssignParameters, TiedGroupRecordsEveryHolderStage) {
  auto g = tiedGraph();
  assignParameters(*g);
  EXPECT_EQ(g->ties[0].stages, (std::vector<int>{0, 1}));
}

TEST(AssignParameters, WriteToParameterReadByTwoStagesIsRefused) {
  auto g = parseOrFail(R"(graph(%x : Tensor) {
  param $count : Tensor
stage 0:
  %v0 : Tensor = aten::add_($count, %x) @a [writes=0]
stage 1:
  %v1 : Tensor = aten::mul(%v0, $count) @b
  return (%v1)
}
)");
  g->params.push_back({"count", false, true, {}});
  findCrossStageValues(*g);
  try {
    assignParameters(*g);
    FAIL() << "expected a CompileError";
  } catch (const CompileError &e) {
    EXPECT_STREQ(e.what(), "'aten::add_' in module 'a' (stage 0) writes 'count', which other "
                           "stages also read");
  }
}

TEST(AssignParameters, ParameterReadByTwoStagesIsATiedGroupOfOne) {
  // forward ends with `h @ emb.weight.t()` while stage 0 embeds with it: each
  // stage gets only its share of the gradient, so the copies form a group.
  auto g = parseOrFail(R"(graph(%ids : Tensor) {
  param $emb.weight : Tensor
  param $fc.weight : Tensor
  param $mask : Tensor
stage 0:
  %v0 : Tensor = aten::embedding($emb.weight, %ids) @emb
  %v1 : Tensor = aten::mul(%v0, $mask) @emb
stage 1:
  %v2 : Tensor = aten::linear(%v1, $fc.weight) @fc
  %v3 : Tensor = aten::mul(%v2, $mask) @fc
  %v4 : Tensor = aten::t($emb.weight)
  %v5 : Tensor = aten::matmul(%v3, %v4)
  return (%v5)
}
)");
  g->params.push_back({"emb.weight", true, false, {}});
  g->params.push_back({"fc.weight", true, false, {}});
  g->params.push_back({"mask", false, true, {}}); // a buffer takes no gradient: no group
  findCrossStageValues(*g);
  EXPECT_EQ(assignParameters(*g), 2u);
  ASSERT_EQ(g->ties.size(), 1u);
  EXPECT_EQ(g->ties[0].parameters, std::vector<std::string>{"emb.weight"});
  EXPECT_EQ(g->ties[0].stages, (std::vector<int>{0, 1}));
}

TEST(AssignParameters, SharedParameterAlreadyInAGroupIsNotGroupedTwice) {
  auto g = parseOrFail(R"(graph(%ids : Tensor) {
  param $wte.weight : Tensor
  param $head.weight : Tensor
stage 0:
  %v0 : Tensor = aten::embedding($wte.weight, %ids) @wte
stage 1:
  %v1 : Tensor = aten::linear(%v0, $wte.weight) @h
  %v2 : Tensor = aten::linear(%v1, $head.weight) @head
  return (%v2)
}
)");
  for (const char *name : {"wte.weight", "head.weight"})
    g->params.push_back({name, true, false, {}});
  g->ties.push_back({{"wte.weight", "head.weight"}, {}});
  findCrossStageValues(*g);
  assignParameters(*g);
  ASSERT_EQ(g->ties.size(), 1u);
  EXPECT_EQ(g->ties[0].stages, (std::vector<int>{0, 1}));
}
