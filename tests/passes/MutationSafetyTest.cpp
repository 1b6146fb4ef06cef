//===- tests/passes/MutationSafetyTest.cpp - In-place writes across stages ===//
#include "passes/MutationSafety.h"
#include "ir/Diagnostics.h"
#include "ir/Printer.h"
#include "passes/CrossStageValues.h"
#include "tests/ir/FileCheck.h"

using namespace ppc;
using namespace ppc::testing;

static std::string run(const char *ir) {
  auto g = parseOrFail(ir);
  makeMutationSafe(*g);
  findCrossStageValues(*g);
  return graphToString(*g, {false, false, true});
}

static std::string diagnose(const char *ir) {
  try {
    run(ir);
  } catch (const CompileError &e) {
    return e.what();
  }
  return "no error";
}

// y = l0(x); z = l1(y); y.mul_(2); out = l2(y) + z, split before l1.
TEST(MutationSafety, ReceivedValueIsCopiedBeforeTheWrite) {
  EXPECT_TRUE(fileCheck(run(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor = aten::relu(%x) @l0
stage 1:
  %v1 : Tensor = aten::tanh(%v0) @l1
  %v2 : Tensor = aten::mul_(%v0) [writes=0]
  %v3 : Tensor = aten::sigmoid(%v0) @l2
stage 2:
  %v4 : Tensor = aten::add(%v0, %v1) @head
  %v5 : Tensor = aten::sub(%v0, %v3) @head
  return (%v4, %v5)
}
)"),
                        R"(
    CHECK: stage 1:
    CHECK-NEXT: %v6 : Tensor = ppc::clone(%v0)
    CHECK-NEXT: aten::tanh(%v6) @l1
    CHECK-NEXT: aten::mul_(%v6) [writes=0]
    CHECK-NEXT: aten::sigmoid(%v6) @l2
    CHECK: aten::add(%v6, %v1) @head
    CHECK-NEXT: aten::sub(%v6, %v3) @head
    CHECK: %v0 : Tensor  stage 0 -> 1
    CHECK-NEXT: %v6 : Tensor  stage 1 -> 2
    CHECK-NEXT: %v1 : Tensor  stage 1 -> 2)"));
}

TEST(MutationSafety, WriteLocalToItsStageIsLeftAlone) {
  std::string text = run(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor = aten::relu(%x) @l0
  %v1 : Tensor = aten::mul_(%v0) [writes=0]
stage 1:
  %v2 : Tensor = aten::tanh(%v0) @l1
  return (%v2)
}
)");
  EXPECT_TRUE(fileCheck(text, "CHECK-NOT: ppc::clone\nCHECK: return"));
}

TEST(MutationSafety, WriteThroughViewOfReceivedValueCopiesTheRoot) {
  EXPECT_TRUE(fileCheck(run(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor = aten::relu(%x) @l0
stage 1:
  %v1 : Tensor = aten::view(%v0) @l1 [views=0]
  %v2 : Tensor = aten::add_(%v1) @l1 [writes=0]
stage 2:
  %v3 : Tensor = aten::tanh(%v0) @l2
  return (%v3)
}
)"),
                        R"(
    CHECK: %v4 : Tensor = ppc::clone(%v0) @l1
    CHECK-NEXT: aten::view(%v4) @l1
    CHECK: aten::tanh(%v4) @l2)"));
}

TEST(MutationSafety, WriteToSharedViewIsRefused) {
  // %v1 views %v0 in stage 0; stage 1 writes %v1 while stage 2 reads %v0.
  EXPECT_EQ(diagnose(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor = aten::relu(%x) @l0
  %v1 : Tensor = aten::view(%v0) @l0 [views=0]
stage 1:
  %v2 : Tensor = aten::add_(%v1) @l1 [writes=0]
stage 2:
  %v3 : Tensor = aten::tanh(%v0) @l2
  return (%v3)
}
)"),
            "in-place 'aten::add_' in module 'l1' (stage 1) writes %v1, which another stage also "
            "holds (through a view or a container)");
}

TEST(MutationSafety, AppendToReceivedListCopiesTheList) {
  EXPECT_TRUE(fileCheck(run(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor[] = prim::ListConstruct(%x) @l0
stage 1:
  %v1 : Tensor[] = aten::append(%v0, %x) @l1 [writes=0]
  %v2 : Tensor = aten::cat(%v0) @l1
  return (%v2)
}
)"),
                        R"(
    CHECK: %v3 : Tensor[] = ppc::clone(%v0) @l1
    CHECK-NEXT: aten::append(%v3, %x) @l1
    CHECK-NEXT: aten::cat(%v3) @l1)"));
}

TEST(MutationSafety, WriteToTensorAlsoHeldInASentListIsRefused) {
  // acc = [y]; stage 1 writes y in place, stage 2 reads acc: it must see the write.
  EXPECT_EQ(diagnose(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor = aten::relu(%x) @l0
  %v1 : Tensor[] = prim::ListConstruct(%v0) @l0
stage 1:
  %v2 : Tensor = aten::mul_(%v0) @l1 [writes=0]
stage 2:
  %v3 : Tensor = aten::stack(%v1) @l2
  return (%v3)
}
)"),
            "in-place 'aten::mul_' in module 'l1' (stage 1) writes %v0, which another stage also "
            "holds (through a view or a container)");
}

TEST(MutationSafety, WriteToElementOfReceivedTupleIsRefused) {
  // Over processes the tuple arrives as a copy; its other holder (%v1) would miss the write.
  EXPECT_EQ(diagnose(R"(graph(%x : Tensor) {
stage 0:
  %v0 : Tensor = aten::relu(%x) @l0
  %v1 : Tensor[] = prim::ListConstruct(%v0) @l0
  %v2 : (Tensor) = prim::TupleConstruct(%v0) @l0
stage 1:
  %v3 : Tensor = prim::TupleUnpack(%v2) @l1
  %v4 : Tensor = aten::mul_(%v3) @l1 [writes=0]
  %v5 : Tensor = aten::stack(%v1) @l1
  return (%v5)
}
)"),
            "in-place 'aten::mul_' in module 'l1' (stage 1) writes %v3, which another stage also "
            "holds (through a view or a container)");
}
