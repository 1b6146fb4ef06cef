//===- passes/MutationSafety.cpp - In-place writes across stages ----------===//
//
// For each writing op, the write's members are the values that are the
// written object (views via Op::resultAliases, the same tensor taken out of a
// tuple or list) and its holders the containers holding a member. Members
// defined outside the writer's stage and read inside it are the received
// ones; exactly one, through which the write happens, can be copied, and only
// if nothing else from outside the stage observes the write afterwards.
//
//===----------------------------------------------------------------------===//
#include "passes/MutationSafety.h"

#include "ir/Diagnostics.h"

#include <map>
#include <set>

using namespace ppc;

namespace {

/// Union-find over values that are the same object or views of one another.
class SameObject {
public:
  Value *find(Value *v) {
    auto it = parents.find(v);
    if (it == parents.end() || it->second == v)
      return v;
    return it->second = find(it->second);
  }
  void unite(Value *a, Value *b) {
    parents.try_emplace(a, a);
    parents.try_emplace(b, b);
    parents[find(a)] = find(b);
  }

private:
  std::map<Value *, Value *> parents;
};

bool isConstruct(llvm::StringRef kind) {
  return kind == "prim::TupleConstruct" || kind == "prim::ListConstruct";
}

bool isExtract(llvm::StringRef kind) {
  return kind == "prim::TupleUnpack" || kind == "prim::ListUnpack" || kind == "prim::TupleIndex" ||
         kind == "aten::__getitem__";
}

/// Relates values for the write `written` in `stage`: its members are the
/// objects the write changes (the value, its views, the same tensor taken out
/// of a tuple or list; for a list write, the list itself), its holders the
/// containers filled in other stages that hold a member and so observe the
/// write (over processes, through a copy that the write does not reach).
struct WriteEffect {
  std::set<Value *> members;
  std::set<Value *> holders;
};

WriteEffect effectOf(const Graph &g, Value *written, int stage) {
  SameObject same;
  bool tensorWrite = written->isTensor();
  for (const auto &op : g.ops()) {
    for (size_t r = 0; r < op->results.size(); ++r)
      if (op->resultAliases[r] >= 0) // views, and a list returned by its own append
        same.unite(op->results[r], op->inputs[op->resultAliases[r]]);
    if (!tensorWrite || !isExtract(op->kind))
      continue;
    Value *container = op->inputs[0];
    bool knownElements = container->def && isConstruct(container->def->kind) &&
                         op->kind == "prim::TupleUnpack" &&
                         container->def->inputs.size() == op->results.size();
    for (size_t r = 0; r < op->results.size(); ++r)
      same.unite(op->results[r], knownElements ? container->def->inputs[r] : container);
  }
  WriteEffect effect;
  for (const auto &v : g.values())
    if (same.find(v.get()) == same.find(written))
      effect.members.insert(v.get());
  effect.members.insert(written);
  if (!tensorWrite)
    return effect;
  for (const auto &op : g.ops()) {
    // Containers filled in the writer's own stage hold the very object written.
    if (op->stage == stage)
      continue;
    bool holds = llvm::any_of(op->inputs, [&](Value *in) {
      return effect.members.count(in) || effect.holders.count(in);
    });
    if (holds && (isConstruct(op->kind) || op->kind == "aten::append"))
      effect.holders.insert(op->results.begin(), op->results.end());
    if (holds && op->kind == "aten::append")
      effect.holders.insert(op->inputs[0]);
  }
  return effect;
}

bool isReceivedBy(const Graph &g, const Value &v, int stage) {
  if (v.isCloned() || g.producerStage(v) == stage)
    return false;
  return llvm::any_of(v.users, [&](const Op *u) { return u->stage == stage; });
}

bool isCopyable(const Value &v) {
  llvm::StringRef type(v.type);
  return v.isTensor() || type.startswith("List[") || type.endswith("[]");
}

[[noreturn]] void refuse(const Op &writer, const Value &written) {
  std::string where = writer.path.empty() ? "the model's forward" : "module '" + writer.path + "'";
  throw CompileError("in-place '" + writer.kind + "' in " + where + " (stage " +
                         std::to_string(writer.stage) + ") writes %" + written.name +
                         ", which another stage also holds (through a view or a container)",
                     "move the split so that the value and whatever holds it stay in one stage");
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
  // The copy stands for the same TorchScript value: a later stage that receives it takes its
  // type from there (readers' operand slots keep their own handles, Op::operandHandles).
  copied->handle = received->handle;
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
  WriteEffect effect = effectOf(g, written, writer.stage);
  std::vector<Value *> received;
  for (Value *m : effect.members)
    if (isReceivedBy(g, *m, writer.stage))
      received.push_back(m);
  // A container received from elsewhere that holds the written object: its
  // other holders (and, over processes, its serialized copies) go unseen.
  for (Value *h : effect.holders)
    if (isReceivedBy(g, *h, writer.stage))
      refuse(writer, *written);
  if (received.empty())
    return false;
  if (received.size() > 1)
    refuse(writer, *written);
  Value *through = received.front();
  // Only `through` is copied: any other value from outside this stage that
  // holds the written object and is read after the write would miss it.
  std::set<Value *> observers = effect.members;
  observers.insert(effect.holders.begin(), effect.holders.end());
  for (Value *m : observers) {
    if (m == through || g.producerStage(*m) == writer.stage)
      continue;
    if (m->isModelOutput)
      refuse(writer, *written);
    for (Op *u : m->users)
      if (u->index > writer.index)
        refuse(writer, *written);
  }
  if (!isCopyable(*through))
    throw CompileError("in-place '" + writer.kind + "' (stage " + std::to_string(writer.stage) +
                           ") writes %" + through->name + " of type " + through->type +
                           ", received from another stage, and ppc cannot copy that type",
                       "move the split so that the value is created and written in one stage");
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
