//===- ir/Verifier.cpp - Structural invariants of the ppc IR --------------===//
//
// Graph::verify checks what every pass may rely on and must leave intact:
// op indices are positions, every operand is defined before its use, use
// lists list exactly the reading ops in program order, results point back to
// their op, stages are in range and non-decreasing, and, once the cross-stage
// analysis has run, each stage's interface lists exactly the values it
// receives and sends. A failure is a compiler bug, not a user error.
//
//===----------------------------------------------------------------------===//
#include "ir/Graph.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <set>

using namespace ppc;

namespace {

class Verifier {
public:
  explicit Verifier(const Graph &g) : g(g) {}
  std::string run();

private:
  std::string fail(const Op &op, const std::string &what) const {
    return "op " + std::to_string(op.index) + " (" + op.kind + "): " + what;
  }
  std::string checkOps();
  std::string checkUseLists();
  std::string checkStages();
  std::string checkInterfaces();
  std::set<const Value *> expectedInputs(int stage) const;
  std::set<const Value *> expectedOutputs(int stage) const;

  const Graph &g;
};

std::string Verifier::checkOps() {
  llvm::DenseSet<const Value *> defined(g.inputs().begin(), g.inputs().end());
  for (size_t i = 0; i < g.ops().size(); ++i) {
    const Op &op = *g.ops()[i];
    if (op.index != i)
      return fail(op, "index is not its position " + std::to_string(i));
    for (const Value *in : op.inputs) {
      if (in->kind == ValueKind::Result && !defined.count(in))
        return fail(op, "operand %" + in->name + " is used before it is defined");
      if (in->kind == ValueKind::Input && !defined.count(in))
        return fail(op, "operand %" + in->name + " is not a graph input");
    }
    for (unsigned r = 0; r < op.results.size(); ++r) {
      const Value *v = op.results[r];
      if (v->def != &op || v->resultNo != r || v->kind != ValueKind::Result)
        return fail(op, "result %" + v->name + " does not point back to its op");
      defined.insert(v);
    }
  }
  for (const Value *out : g.outputs())
    if (out->kind == ValueKind::Result && !defined.count(out))
      return "output %" + out->name + " is not defined by any op";
  return "";
}

std::string Verifier::checkUseLists() {
  llvm::DenseMap<const Value *, llvm::SmallVector<const Op *, 4>> expected;
  for (const auto &op : g.ops())
    for (const Value *in : op->inputs)
      expected[in].push_back(op.get());
  for (const auto &v : g.values()) {
    llvm::SmallVector<const Op *, 4> want = expected.lookup(v.get());
    if (!llvm::equal(want, v->users))
      return "value %" + v->name + " has a stale use list (" + std::to_string(v->users.size()) +
             " users listed, " + std::to_string(want.size()) + " in program order)";
  }
  return "";
}

std::string Verifier::checkStages() {
  if (g.numStages == 0)
    return "";
  int last = 0;
  for (const auto &op : g.ops()) {
    if (op->stage < 0 || op->stage >= g.numStages)
      return fail(*op, "stage " + std::to_string(op->stage) + " is out of range");
    if (op->stage < last)
      return fail(*op,
                  "stage " + std::to_string(op->stage) + " follows stage " + std::to_string(last));
    last = op->stage;
  }
  return "";
}

std::set<const Value *> Verifier::expectedInputs(int stage) const {
  std::set<const Value *> in;
  for (const auto &op : g.ops())
    if (op->stage == stage)
      for (const Value *v : op->inputs)
        if (!v->isCloned() && g.producerStage(*v) != stage)
          in.insert(v);
  for (const Value *out : g.outputs())
    if (!out->isCloned() && g.outputStage(*out) == stage && g.producerStage(*out) != stage)
      in.insert(out);
  return in;
}

std::set<const Value *> Verifier::expectedOutputs(int stage) const {
  std::set<const Value *> out;
  for (const auto &op : g.ops()) {
    if (op->stage != stage)
      continue;
    for (const Value *r : op->results)
      for (const Op *user : r->users)
        if (user->stage != stage)
          out.insert(r);
  }
  for (const Value *v : g.outputs())
    if (g.outputStage(*v) == stage)
      out.insert(v);
  return out;
}

std::string Verifier::checkInterfaces() {
  if (g.stageInterfaces.empty())
    return "";
  if (int(g.stageInterfaces.size()) != g.numStages)
    return std::to_string(g.stageInterfaces.size()) + " stage interfaces for " +
           std::to_string(g.numStages) + " stages";
  for (int k = 0; k < g.numStages; ++k) {
    const StageInterface &io = g.stageInterfaces[k];
    std::set<const Value *> in(io.inputs.begin(), io.inputs.end());
    std::set<const Value *> out(io.outputs.begin(), io.outputs.end());
    if (in != expectedInputs(k))
      return "stage " + std::to_string(k) + "'s inputs are not what its ops read from elsewhere";
    if (out != expectedOutputs(k))
      return "stage " + std::to_string(k) + "'s outputs are not what later stages read";
  }
  return "";
}

std::string Verifier::run() {
  for (auto check : {&Verifier::checkOps, &Verifier::checkUseLists, &Verifier::checkStages,
                     &Verifier::checkInterfaces}) {
    std::string error = (this->*check)();
    if (!error.empty())
      return error;
  }
  return "";
}

} // namespace

std::string Graph::verify() const { return Verifier(*this).run(); }
