//===- tests/ir/PrinterTest.cpp - IR text round trip ----------------------===//
#include "ir/Printer.h"
#include "ir/Parser.h"
#include "tests/ir/FileCheck.h"

using namespace ppc;
using namespace ppc::testing;

static const char *kTwoStages = R"(graph(%x : Tensor:float32[2,4]) {
  modules a, b
  param $a.weight : Tensor:float32[4,4]
  const #c0 : int = 1
stage 0:
  %v0 : Tensor:float32[2,4] = aten::linear(%x, $a.weight) @a
stage 1:
  %v1 : Tensor = aten::add(%v0, %x, #c0) @b [writes=0]
  %v2 : int, %v3 : Tensor = prim::If(%v1) @b [blocks inner=b.c views=-1,0]
  return (%v1, %v2)
}
)";

TEST(Printer, RoundTripIsExact) {
  auto g = parseOrFail(kTwoStages);
  ASSERT_TRUE(g);
  EXPECT_EQ(graphToString(*g), kTwoStages);
}

TEST(Printer, OpKeepsModulePathAndStage) {
  auto g = parseOrFail(kTwoStages);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->numStages, 2);
  EXPECT_EQ(g->ops()[0]->path, "a");
  EXPECT_EQ(g->ops()[1]->stage, 1);
  EXPECT_EQ(g->ops()[2]->innerModules, std::vector<std::string>{"b.c"});
  EXPECT_EQ(g->lookup("x")->tensor.bytes(), 2 * 4 * 4);
}

TEST(Printer, UndefinedValueIsAnError) {
  std::string error;
  auto g = parseGraph("graph(%x : Tensor) {\n  %v0 : Tensor = aten::relu(%y)\n}\n", error);
  EXPECT_FALSE(g);
  EXPECT_EQ(error, "line 2: use of undefined value '%y'");
}

TEST(FileCheck, NotBetweenMatches) {
  EXPECT_TRUE(fileCheck("a\nb\nc\n", "CHECK: a\nCHECK-NOT: x\nCHECK: c"));
  EXPECT_FALSE(fileCheck("a\nb\nc\n", "CHECK: a\nCHECK-NOT: b\nCHECK: c"));
  EXPECT_FALSE(fileCheck("a\nb\nc\n", "CHECK: a\nCHECK-NEXT: c"));
}

TEST(FileCheck, UnknownCheckKindIsAnError) {
  // An unimplemented kind must fail, not be skipped (the text has no "z").
  auto r = fileCheck("a\nb\n", "CHECK: a\nCHECK-DAG: z");
  EXPECT_FALSE(r);
  EXPECT_NE(std::string(r.message()).find("unknown or malformed check line 'CHECK-DAG: z'"),
            std::string::npos);
  EXPECT_FALSE(fileCheck("a\n", "CHECK-NXET: a"));
  EXPECT_FALSE(fileCheck("a\n", "CHECK-COUNT-0: a"));
  EXPECT_FALSE(fileCheck("a\n", "CHECK a"));
  EXPECT_FALSE(fileCheck("a\n", "CHECK-NEXT:"));
}

TEST(FileCheck, CountMatchesConsecutiveLines) {
  EXPECT_TRUE(fileCheck("a\nb\nb\nc\n", "CHECK: a\nCHECK-COUNT-2: b\nCHECK-NEXT: c"));
  EXPECT_FALSE(fileCheck("a\nb\nc\nb\n", "CHECK: a\nCHECK-COUNT-2: b"));
}
