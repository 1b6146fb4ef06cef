//===- frontend/Lower.cpp - Inlined TorchScript graph to ppc IR -----------===//
//
// Walks the top-level nodes of the inlined forward in order. Constants become
// Constant values and GetAttr chains to tensors or plain attributes become
// Param values named by their qualified name; GetAttr chains to submodules
// produce nothing. Every other node becomes an op with its module path, its
// in-place writes and views from the schema, and, for nodes with blocks, the
// top-level values and attributes their bodies read, so that the IR shows
// every dependency that crosses a future stage boundary.
//
//===----------------------------------------------------------------------===//
#include "frontend/ModelImpl.h"

#include "ir/Diagnostics.h"

#include "llvm/ADT/StringExtras.h"

#include <set>
#include <sstream>

using namespace ppc;
using torch::jit::Block;
using torch::jit::Node;
using JitValue = torch::jit::Value;

namespace {

std::string typeString(const c10::TypePtr &t) {
  if (t->kind() == c10::TypeKind::TensorType)
    return "Tensor";
  return t->annotation_str();
}

void recordTensorType(const JitValue *v, TensorInfo &info) {
  auto tt = v->type()->cast<c10::TensorType>();
  if (!tt)
    return;
  if (auto st = tt->scalarType())
    info.dtype = dtypeName(*st);
  if (auto sizes = tt->sizes().concrete_sizes()) {
    info.hasShape = true;
    info.shape.assign(sizes->begin(), sizes->end());
  }
}

std::string constantLiteral(Node *n) {
  auto iv = torch::jit::toIValue(n->output());
  if (!iv)
    return "?";
  if (iv->isTensor())
    return "tensor";
  std::ostringstream os;
  os << *iv;
  std::string s = os.str();
  for (char &c : s)
    if (c == '\n')
      c = ' ';
  return s;
}

class Lowering {
public:
  explicit Lowering(ModelImpl &impl) : impl(impl), ir(impl.ir) {}
  void run();

private:
  Value *valueFor(JitValue *v);
  Value *paramFor(JitValue *v, const std::vector<std::string> &chain);
  void lowerNode(Node *n);
  void collectBlockReads(Block *b, llvm::SmallVectorImpl<JitValue *> &reads,
                         std::set<JitValue *> &seen, std::set<JitValue *> &written);
  void recordSchemaEffects(Node *n, Op &op);
  void lowerOutputs();

  ModelImpl &impl;
  Graph &ir;
  std::unordered_map<const JitValue *, Value *> map;
};

Value *Lowering::paramFor(JitValue *v, const std::vector<std::string> &chain) {
  // Names sharing one storage are read under the first one, as the tracer
  // and Python's named_parameters() (which lists shared tensors once) do.
  std::string name = joinPath(chain);
  for (const Tie &tie : ir.ties)
    if (llvm::is_contained(tie.parameters, name))
      name = tie.parameters.front();
  Value *p = ir.addParam(name, typeString(v->type()));
  p->handle = v;
  recordTensorType(v, p->tensor);
  if (const ParamInfo *info = ir.paramInfo(p->name))
    p->tensor = info->tensor;
  return p;
}

/// The IR value of a top-level LibTorch value (creating Params and Constants
/// on first use); null for module objects and the graph's `self`.
Value *Lowering::valueFor(JitValue *v) {
  auto it = map.find(v);
  if (it != map.end())
    return it->second;
  if (v == impl.inlined->inputs().at(0) || isModuleValue(v))
    return nullptr;
  Node *def = v->node();
  Value *result = nullptr;
  if (def->kind() == c10::prim::Constant) {
    result = ir.addConstant(typeString(v->type()), constantLiteral(def));
    result->handle = v;
    recordTensorType(v, result->tensor);
  } else if (def->kind() == c10::prim::GetAttr) {
    auto chain = attributeChain(v);
    if (!chain)
      throw CompileError("an attribute read that is not rooted at the model (" + nodePath(def) +
                             ")",
                         "ppc supports attributes reached as self.a.b");
    result = paramFor(v, *chain);
  } else {
    throw InternalError("value %" + v->debugName() + " used before its definition");
  }
  map[v] = result;
  return result;
}

/// The top-level values a nested body reads (free variables), and which of
/// them it writes in place.
void Lowering::collectBlockReads(Block *b, llvm::SmallVectorImpl<JitValue *> &reads,
                                 std::set<JitValue *> &seen, std::set<JitValue *> &written) {
  std::vector<Node *> nodes(b->nodes().begin(), b->nodes().end());
  nodes.push_back(b->return_node()); // a body may return an outer value as is
  for (Node *n : nodes) {
    const c10::FunctionSchema *schema = n->maybeSchema();
    for (size_t i = 0; i < n->inputs().size(); ++i) {
      JitValue *in = n->input(i);
      if (in->node()->owningBlock() != impl.inlined->block())
        continue;
      if (in->node()->kind() == c10::prim::Param && in == impl.inlined->inputs().at(0))
        continue;
      if (schema && i < schema->arguments().size()) {
        const auto *alias = schema->arguments()[i].alias_info();
        if (alias && alias->isWrite())
          written.insert(in);
      }
      if (seen.insert(in).second)
        reads.push_back(in);
    }
    // Attributes read inside the body belong to this op too.
    if (n->kind() == c10::prim::GetAttr && !isModuleValue(n->output()))
      if (auto chain = attributeChain(n->output()))
        reads.push_back(n->output()), map[n->output()] = paramFor(n->output(), *chain);
    for (Block *sub : n->blocks())
      collectBlockReads(sub, reads, seen, written);
  }
}

void Lowering::recordSchemaEffects(Node *n, Op &op) {
  const c10::FunctionSchema *schema = n->maybeSchema();
  if (!schema)
    return;
  const auto &args = schema->arguments();
  for (size_t i = 0; i < args.size() && i < n->inputs().size(); ++i)
    if (args[i].alias_info() && args[i].alias_info()->isWrite())
      op.writtenInputs.push_back(i);
  const auto &rets = schema->returns();
  for (size_t r = 0; r < rets.size() && r < op.results.size(); ++r) {
    const auto *retAlias = rets[r].alias_info();
    if (!retAlias || retAlias->isWrite())
      continue;
    for (size_t i = 0; i < args.size(); ++i)
      if (args[i].alias_info() && args[i].alias_info()->beforeSets() == retAlias->beforeSets())
        op.resultAliases[r] = i;
  }
}

/// Module paths of nodes nested in `b` other than `outer`.
void collectInnerModules(Block *b, const std::string &outer, std::vector<std::string> &paths) {
  for (Node *n : b->nodes()) {
    std::string p = nodePath(n);
    if (p != outer && std::find(paths.begin(), paths.end(), p) == paths.end())
      paths.push_back(p);
    for (Block *sub : n->blocks())
      collectInnerModules(sub, outer, paths);
  }
}

/// Names a result after the TorchScript value it comes from
/// (`%hidden_states.12`), so that people can find it in the model's code. The
/// graph keeps names unique: a hint that is taken, or that looks like one of
/// the IR's own names (v12, c3), leaves the fresh name.
void nameAfterSource(Graph &g, Value *v, const JitValue *source) {
  if (!source->hasDebugName())
    return;
  llvm::StringRef hint = source->debugName();
  bool ownStyle = hint.size() > 1 && (hint[0] == 'v' || hint[0] == 'c') &&
                  llvm::all_of(hint.drop_front(), llvm::isDigit);
  bool plain = llvm::all_of(hint, [](char c) { return llvm::isAlnum(c) || c == '_' || c == '.'; });
  if (ownStyle || !plain)
    return;
  g.renameValue(v, hint);
}

void Lowering::lowerNode(Node *n) {
  if (n->kind() == c10::prim::Constant || n->kind() == c10::prim::GetAttr)
    return; // lowered lazily, where used
  llvm::SmallVector<JitValue *, 8> operands(n->inputs().begin(), n->inputs().end());
  std::set<JitValue *> seen(operands.begin(), operands.end());
  std::set<JitValue *> written;
  for (Block *b : n->blocks())
    collectBlockReads(b, operands, seen, written);
  llvm::SmallVector<Value *, 8> inputs;
  for (JitValue *v : operands) {
    Value *iv = valueFor(v);
    if (!iv && v != impl.inlined->inputs().at(0) && n->blocks().empty())
      throw CompileError(std::string(n->kind().toQualString()) + " in module '" + nodePath(n) +
                             "' takes a module object as a value",
                         "ppc needs modules to be called, not passed around");
    if (iv)
      inputs.push_back(iv);
  }
  std::vector<std::string> types;
  for (JitValue *out : n->outputs())
    types.push_back(typeString(out->type()));
  Op *op = ir.addOp(n->kind().toQualString(), nodePath(n), inputs, types);
  op->handle = n;
  op->hasBlocks = !n->blocks().empty();
  for (Block *b : n->blocks())
    collectInnerModules(b, op->path, op->innerModules);
  recordSchemaEffects(n, *op);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (written.count(static_cast<JitValue *>(inputs[i]->handle)))
      op->writtenInputs.push_back(i);
  for (size_t i = 0; i < n->outputs().size(); ++i) {
    nameAfterSource(ir, op->results[i], n->output(i));
    op->results[i]->handle = n->output(i);
    recordTensorType(n->output(i), op->results[i]->tensor);
    map[n->output(i)] = op->results[i];
  }
}

void Lowering::lowerOutputs() {
  JitValue *ret = impl.inlined->outputs().at(0);
  llvm::SmallVector<JitValue *, 4> outs{ret};
  // A returned tuple lists its elements as the model's outputs.
  if (ret->node()->kind() == c10::prim::TupleConstruct)
    outs.assign(ret->node()->inputs().begin(), ret->node()->inputs().end());
  for (JitValue *v : outs) {
    Value *iv = valueFor(v);
    if (!iv)
      throw CompileError("the model returns a module object", "return tensors or tuples");
    ir.addOutput(iv);
  }
  ir.removeDeadOps();
}

void Lowering::run() {
  const auto &schema = impl.module.get_method("forward").function().getSchema();
  for (size_t i = 1; i < impl.inlined->inputs().size(); ++i) {
    JitValue *in = impl.inlined->inputs()[i];
    std::string name =
        i < schema.arguments().size() ? schema.arguments()[i].name() : in->debugName();
    Value *v = ir.addInput(name, typeString(in->type()));
    v->handle = in;
    recordTensorType(in, v->tensor);
    map[in] = v;
  }
  for (Node *n : impl.inlined->nodes())
    lowerNode(n);
  lowerOutputs();
}

} // namespace

void ppc::lowerToIR(ModelImpl &impl) { Lowering(impl).run(); }
