//===- ir/Graph.cpp - The ppc dataflow IR ---------------------------------===//
//
// Construction and queries of the ppc IR. Names are unique per graph: op
// results are v0, v1, ...; constants c0, c1, ...; parameters and inputs keep
// their own names.
//
//===----------------------------------------------------------------------===//
#include "ir/Graph.h"

#include <algorithm>

using namespace ppc;

int64_t TensorInfo::numel() const {
  if (!hasShape)
    return -1;
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      return -1;
    n *= d;
  }
  return n;
}

int64_t TensorInfo::elementBytes() const {
  if (dtype == "float64" || dtype == "int64" || dtype == "complex64")
    return 8;
  if (dtype == "float32" || dtype == "int32")
    return 4;
  if (dtype == "float16" || dtype == "bfloat16" || dtype == "int16")
    return 2;
  if (dtype == "int8" || dtype == "uint8" || dtype == "bool")
    return 1;
  return -1;
}

int64_t TensorInfo::bytes() const {
  int64_t n = numel();
  int64_t e = elementBytes();
  return n < 0 || e < 0 ? -1 : n * e;
}

bool CrossStageValue::isSkip() const {
  for (int c : consumers)
    if (c != producer + 1)
      return true;
  return false;
}

bool ppc::isWithinModule(llvm::StringRef path, llvm::StringRef module) {
  if (module.empty())
    return true;
  if (!path.startswith(module))
    return false;
  return path.size() == module.size() || path[module.size()] == '.';
}

Value *Graph::newValue(ValueKind kind, llvm::StringRef name, llvm::StringRef type) {
  auto v = std::make_unique<Value>();
  v->id = valueList.size();
  v->kind = kind;
  v->name = name.str();
  v->type = type.str();
  Value *raw = v.get();
  valueList.push_back(std::move(v));
  byName[raw->name] = raw;
  return raw;
}

std::string Graph::freshName(llvm::StringRef prefix) {
  unsigned &counter = prefix == "c" ? nextConstant : nextResult;
  std::string name;
  do
    name = prefix.str() + std::to_string(counter++);
  while (byName.count(name));
  return name;
}

Value *Graph::addInput(llvm::StringRef name, llvm::StringRef type) {
  Value *v = newValue(ValueKind::Input, name, type);
  inputList.push_back(v);
  return v;
}

Value *Graph::addParam(llvm::StringRef qualifiedName, llvm::StringRef type) {
  if (Value *existing = findParam(qualifiedName))
    return existing;
  return newValue(ValueKind::Param, qualifiedName, type);
}

Value *Graph::addConstant(llvm::StringRef type, llvm::StringRef literal) {
  Value *v = newValue(ValueKind::Constant, freshName("c"), type);
  v->literal = literal.str();
  return v;
}

static std::unique_ptr<Op> makeOp(llvm::StringRef kind, llvm::StringRef path,
                                  llvm::ArrayRef<Value *> inputs) {
  auto op = std::make_unique<Op>();
  op->kind = kind.str();
  op->path = path.str();
  op->inputs.assign(inputs.begin(), inputs.end());
  for (Value *in : inputs)
    op->operandHandles.push_back(in->handle);
  return op;
}

Op *Graph::addOp(llvm::StringRef kind, llvm::StringRef path, llvm::ArrayRef<Value *> inputs,
                 llvm::ArrayRef<std::string> resultTypes) {
  Op *before = nullptr;
  return insertOpBefore(before, kind, path, inputs, resultTypes);
}

Op *Graph::insertOpBefore(Op *before, llvm::StringRef kind, llvm::StringRef path,
                          llvm::ArrayRef<Value *> inputs, llvm::ArrayRef<std::string> resultTypes) {
  auto owned = makeOp(kind, path, inputs);
  Op *op = owned.get();
  for (Value *in : inputs)
    in->users.push_back(op);
  for (unsigned i = 0; i < resultTypes.size(); ++i) {
    Value *r = newValue(ValueKind::Result, freshName("v"), resultTypes[i]);
    r->def = op;
    r->resultNo = i;
    op->results.push_back(r);
    op->resultAliases.push_back(-1);
  }
  if (!before) {
    op->index = opList.size();
    opList.push_back(std::move(owned));
    return op;
  }
  opList.insert(opList.begin() + before->index, std::move(owned));
  renumber();
  // Keep use lists in program order.
  for (Value *in : inputs)
    std::stable_sort(in->users.begin(), in->users.end(),
                     [](Op *a, Op *b) { return a->index < b->index; });
  return op;
}

void Graph::moveOpAfter(Op *op, Op *after) {
  unsigned to = after ? after->index + (after->index < op->index) : 0;
  auto from = opList.begin() + op->index;
  if (to < op->index)
    std::rotate(opList.begin() + to, from, from + 1);
  else
    std::rotate(from, from + 1, opList.begin() + to + 1);
  renumber();
  // Keep use lists in program order.
  for (Value *in : op->inputs)
    std::stable_sort(in->users.begin(), in->users.end(),
                     [](Op *a, Op *b) { return a->index < b->index; });
}

void Graph::renumber() {
  for (unsigned i = 0; i < opList.size(); ++i)
    opList[i]->index = i;
}

void Graph::addOutput(Value *v) {
  v->isModelOutput = true;
  outputList.push_back(v);
}

bool Graph::renameValue(Value *v, llvm::StringRef name) {
  if (v->name == name)
    return true;
  if (byName.count(name))
    return false;
  byName.erase(v->name);
  v->name = name.str();
  byName[v->name] = v;
  return true;
}

void Graph::setOpInput(Op *op, unsigned inputNo, Value *v) {
  Value *old = op->inputs[inputNo];
  auto it = std::find(old->users.begin(), old->users.end(), op);
  if (it != old->users.end())
    old->users.erase(it);
  op->inputs[inputNo] = v;
  auto pos = std::upper_bound(v->users.begin(), v->users.end(), op,
                              [](Op *a, Op *b) { return a->index < b->index; });
  v->users.insert(pos, op);
}

void Graph::replaceAllUsesWith(Value *from, Value *to) {
  llvm::SmallVector<Op *, 4> readers(from->users.begin(), from->users.end());
  for (Op *op : llvm::make_range(readers.begin(), std::unique(readers.begin(), readers.end())))
    for (unsigned i = 0; i < op->inputs.size(); ++i)
      if (op->inputs[i] == from)
        setOpInput(op, i, to);
  for (Value *&out : outputList)
    if (out == from)
      out = to;
  if (from->isModelOutput)
    to->isModelOutput = true;
  from->isModelOutput = false;
}

static bool isDead(const Op &op) {
  if (op.writes() || op.hasBlocks)
    return false;
  for (Value *r : op.results)
    if (!r->users.empty() || r->isModelOutput)
      return false;
  return true;
}

unsigned Graph::removeDeadOps() {
  unsigned removed = 0;
  // Walk backwards so that a chain of dead ops goes in one sweep.
  for (size_t i = opList.size(); i-- > 0;) {
    Op *op = opList[i].get();
    if (!isDead(*op))
      continue;
    // An op that reads a value twice is listed twice among its users.
    for (Value *in : op->inputs)
      llvm::erase_value(in->users, op);
    for (Value *r : op->results)
      r->def = nullptr;
    opList.erase(opList.begin() + i);
    ++removed;
  }
  renumber();
  return removed;
}

Value *Graph::lookup(llvm::StringRef name) const {
  auto it = byName.find(name);
  return it == byName.end() ? nullptr : it->second;
}

Value *Graph::findParam(llvm::StringRef qualifiedName) const {
  Value *v = lookup(qualifiedName);
  return v && v->kind == ValueKind::Param ? v : nullptr;
}

const ParamInfo *Graph::paramInfo(llvm::StringRef name) const {
  for (const ParamInfo &p : params)
    if (p.name == name)
      return &p;
  return nullptr;
}

int Graph::producerStage(const Value &v) const {
  return v.kind == ValueKind::Result && v.def ? v.def->stage : -1;
}

int Graph::outputStage(const Value &v) const {
  int producer = producerStage(v);
  return producer >= 0 ? producer : numStages - 1;
}
