//===- tests/frontend/FrontendTest.cpp - Lowering real GPT-2 exports ------===//
//
// The frontend on the HuggingFace GPT-2 exports: exact module paths through
// ModuleList containers, parameters by qualified name, ties kept by the
// export, and shapes from example inputs.
//
//===----------------------------------------------------------------------===//
#include "frontend/Frontend.h"
#include "ir/Printer.h"
#include "tests/ir/FileCheck.h"

#include <set>

using namespace ppc;
using namespace ppc::testing;

static std::string data(const std::string &name) { return std::string(PPC_TEST_DATA) + "/" + name; }

static std::set<std::string> opPaths(const Graph &g) {
  std::set<std::string> paths;
  for (const auto &op : g.ops())
    paths.insert(op->path);
  return paths;
}

TEST(Frontend, OpsKeepFullModulePathsThroughModuleList) {
  auto model = Model::load(data("gpt2-tiny-lm.pt"));
  std::set<std::string> paths = opPaths(model->graph());
  for (const char *p :
       {"transformer.wte", "transformer.h.0.attn.c_attn", "transformer.h.3.mlp.c_proj",
        "transformer.h.2.ln_1", "transformer.ln_f", "lm_head"})
    EXPECT_TRUE(paths.count(p)) << p;
  for (const std::string &p : paths)
    EXPECT_FALSE(llvm::StringRef(p).startswith("0.")) << "container lost in " << p;
}

TEST(Frontend, ParameterReadsAreQualifiedNamesOfTheModel) {
  auto model = Model::load(data("gpt2-tiny-lm.pt"));
  const Graph &g = model->graph();
  unsigned params = 0;
  for (const auto &v : g.values())
    if (v->kind == ValueKind::Param && g.paramInfo(v->name)) {
      ++params;
      EXPECT_FALSE(v->users.empty()) << v->name;
    }
  // 53 parameters and 8 buffers; the forward reads all but the 4 attn.masked_bias.
  EXPECT_EQ(g.params.size(), 61u);
  EXPECT_EQ(params, 57u);
  EXPECT_FALSE(g.findParam("transformer.h.0.attn.masked_bias"));
  EXPECT_EQ(model->parameterCount(), 336256);
}

TEST(Frontend, PrintedIRShowsModulePathPerOp) {
  auto model = Model::load(data("gpt2-tiny-lm.pt"));
  EXPECT_TRUE(fileCheck(graphToString(model->graph()), R"(
    CHECK: graph(%input_ids : Tensor) {
    CHECK: param $transformer.wte.weight : Tensor:float32[1000,64]
    CHECK: aten::view(%input_ids
    CHECK: aten::embedding($transformer.wte.weight
    CHECK-SAME: @transformer.wte
    CHECK: aten::addmm($transformer.h.0.attn.c_attn.bias
    CHECK: aten::softmax
    CHECK: aten::linear(
    CHECK: return ()"));
}

TEST(Frontend, SharedStorageIsATie) {
  auto model = Model::load(data("gpt2-tiny-lm-tied.pt"));
  ASSERT_EQ(model->graph().ties.size(), 1u);
  EXPECT_EQ(model->graph().ties[0].parameters,
            (std::vector<std::string>{"transformer.wte.weight", "lm_head.weight"}));
  EXPECT_TRUE(model->equalUntiedParameters().empty());
}

TEST(Frontend, CloneOfTiedWeightIsReportedAsEqualUntied) {
  auto model = Model::load(data("gpt2-tiny-lm.pt"));
  EXPECT_TRUE(model->graph().ties.empty());
  auto pairs = model->equalUntiedParameters();
  ASSERT_EQ(pairs.size(), 1u);
  EXPECT_EQ(pairs[0].first, "transformer.wte.weight");
  EXPECT_EQ(pairs[0].second, "lm_head.weight");
  model->addTie(pairs[0].first, pairs[0].second);
  EXPECT_EQ(model->graph().ties.size(), 1u);
}

TEST(Frontend, InputsKeepTheirArgumentNames) {
  auto model = Model::load(data("gpt2-tiny-lm-mask.pt"));
  ASSERT_EQ(model->graph().inputs().size(), 2u);
  EXPECT_EQ(model->graph().inputs()[0]->name, "input_ids");
  EXPECT_EQ(model->graph().inputs()[1]->name, "attention_mask");
}

TEST(Frontend, ExampleInputsGiveEveryTensorItsShape) {
  auto model = Model::load(data("gpt2-tiny-lm.pt"));
  model->annotateShapes(data("gpt2-tiny-lm.io.pt"));
  const Graph &g = model->graph();
  const Value *logits = g.outputs()[0];
  EXPECT_EQ(typeText(*logits), "Tensor:float32[2,16,1000]");
  for (const auto &op : g.ops())
    for (const Value *r : op->results)
      if (r->isTensor())
        EXPECT_TRUE(r->tensor.hasShape) << op->kind << " @" << op->path;
}
