//===- passes/MutationSafety.cpp - In-place writes across stages ----------===//
//
// For each writing op, the alias class of the written value is the root it
// views (following Op::resultAliases backwards) and every view derived from
// that root. Members defined outside the writer's stage and read inside it
// are the received ones; exactly one, through which the write happens, can
// be copied; anything else is refused.
//
//===----------------------------------------------------------------------===//
#include "passes/MutationSafety.h"

#include "ir/Diagnostics.h"

#include <set>

using namespace ppc;

namespace {

/// The value `v` views, or null.
Value *viewedValue(const Value &v) {
  if (v.kind != ValueKind::Result || !v.def)
    return nullptr;
  int input = v.def->resultAliases[v.resultNo];
  return input >= 0 ? v.def->inputs[input] : nullptr;
}

std::set<Value *> aliasClass(Value *v) {
  Value *root = v;
  while (Value *up = viewedValue(*root))
    root = up;
  std::set<Value *> members{root};
  std::vector<Value *> work{root};
  while (!work.empty()) {
    Value *cur = work.back();
    work.pop_back();
    for (Op *user : cur->users)
      for (Value *r : user->results)
        if (viewedValue(*r) == cur && members.insert(r).second)
          work.push_back(r);
  }
  return members;
}

bool isReceivedBy(const Graph &g, const Value &v, int stage) {
  if (v.isCloned() || g.producerStage(v) == stage)
    return false;
  return llvm::any_of(v.users, [&](const Op *u) { return u->stage == stage; });
}

[[noreturn]] void refuse(const Op &writer, const Value &written) {
  std::string where = writer.path.empty() ? "the model's forward" : "module '" + writer.path + "'";
  throw CompileError("in-place '" + writer.kind + "' in " + where + " (stage " +
                         std::to_string(writer.stage) + ") writes %" + written.name +
                         ", which is shared with another stage through a view",
                     "move the split so that the value and its views stay in one stage");
}

/// Copies `received` at its first use in stage `stage` and redirects the uses
/// in that stage and every use after `writer`.
void copyInStage(Graph &g, Value *received, const Op &writer) {
  int stage = writer.stage;
  Op *firstUse = nullptr;
  for (Op *u : received->users)
    if (u->stage == stage) {
      firstUse = u;
      break;
    }
  Op *copy = g.insertOpBefore(firstUse, kCloneOp, writer.path, {received}, {received->type});
  copy->stage = stage;
  Value *copied = copy->results[0];
  copied->tensor = received->tensor;
  copied->handle = received->handle; // codegen maps the original operand to the copy
  std::vector<Op *> users(received->users.begin(), received->users.end());
  for (Op *u : users) {
    if (u == copy || (u->stage != stage && u->index < writer.index))
      continue;
    for (unsigned i = 0; i < u->inputs.size(); ++i)
      if (u->inputs[i] == received)
        g.setOpInput(u, i, copied);
  }
  if (received->isModelOutput)
    refuse(writer, *received); // the model would return the mutated input
}

bool makeWriteSafe(Graph &g, Op &writer, Value *written) {
  if (written->isCloned())
    return false; // parameters: AssignParameters checks them
  std::set<Value *> members = aliasClass(written);
  std::vector<Value *> received;
  for (Value *m : members)
    if (isReceivedBy(g, *m, writer.stage))
      received.push_back(m);
  if (received.empty())
    return false;
  if (received.size() > 1)
    refuse(writer, *written);
  Value *through = received.front();
  // Any other member read after the write outside this stage would miss it.
  for (Value *m : members)
    if (m != through && g.producerStage(*m) != writer.stage)
      for (Op *u : m->users)
        if (u->index > writer.index && u->stage != writer.stage)
          refuse(writer, *written);
  bool copyable = through->isTensor() || llvm::StringRef(through->type).endswith("[]");
  if (!copyable)
    refuse(writer, *written);
  copyInStage(g, through, writer);
  return true;
}

} // namespace

unsigned ppc::makeMutationSafe(Graph &g) {
  unsigned copies = 0;
  for (size_t i = 0; i < g.ops().size(); ++i) {
    Op *op = g.ops()[i].get();
    llvm::SmallVector<Value *, 2> written;
    for (unsigned idx : op->writtenInputs)
      written.push_back(op->inputs[idx]);
    for (Value *w : written)
      if (makeWriteSafe(g, *op, w)) {
        ++copies;
        i = op->index; // ops were renumbered by the insertion
      }
  }
  return copies;
}
