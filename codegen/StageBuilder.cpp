//===- codegen/StageBuilder.cpp - One TorchScript module per stage --------===//
//
// Builds a stage's forward by cloning its ops' LibTorch nodes into a new
// graph whose inputs are the stage's inputs and whose output is the tuple of
// its outputs. Operands are resolved through the IR (so copies inserted by
// passes take effect): stage inputs, results of earlier ops, constants cloned
// in, and parameter reads rebuilt as GetAttr chains on a stage module that
// mirrors the original hierarchy but holds only what the stage reads.
//
//===----------------------------------------------------------------------===//
#include "codegen/Codegen.h"
#include "codegen/StageModule.h"
#include "frontend/ModelImpl.h"
#include "ir/Diagnostics.h"
#include "ir/OpNames.h"

#include <map>

using namespace ppc;
using torch::jit::Block;
using torch::jit::Node;
using JitValue = torch::jit::Value;

namespace {

class StageBuilder {
public:
  StageBuilder(ModelImpl &impl, const OpRange &ops, const StageInterface &io, int stage)
      : impl(impl), g(impl.ir), ops(ops), io(io), stage(stage),
        cu(std::make_shared<torch::jit::CompilationUnit>()),
        module(c10::QualifiedName("__torch__.ppc_stage" + std::to_string(stage)), cu),
        graph(std::make_shared<torch::jit::Graph>()) {}
  torch::jit::Module build();

private:
  torch::jit::Module &stageModuleAt(const std::vector<std::string> &parts, size_t depth);
  void registerChain(const std::vector<std::string> &parts);
  JitValue *chainValue(const std::vector<std::string> &parts);
  JitValue *valueOf(Value *v);
  JitValue *mapFree(JitValue *old, const std::unordered_map<JitValue *, Value *> &operands);
  void preregisterBlockAttributes(Block *b);
  void retypeBlockAttributes(Block *b);
  void emitOp(const Op &op);
  void emitCopy(const Op &op);
  JitValue *noneForUndefined(JitValue *v);

  ModelImpl &impl;
  const Graph &g;
  OpRange ops;
  const StageInterface &io;
  int stage; // names the module and errors
  std::shared_ptr<torch::jit::CompilationUnit> cu;
  torch::jit::Module module;
  std::shared_ptr<torch::jit::Graph> graph;
  JitValue *self = nullptr;
  std::map<std::string, torch::jit::Module> submodules; // by path prefix
  std::map<std::string, JitValue *> chains;             // GetAttr values by path
  std::unordered_map<const Value *, JitValue *> env;
};

/// The stage's module at parts[0..depth), created and registered on demand.
torch::jit::Module &StageBuilder::stageModuleAt(const std::vector<std::string> &parts,
                                                size_t depth) {
  if (depth == 0)
    return module;
  std::vector<std::string> prefix(parts.begin(), parts.begin() + depth);
  std::string key = joinPath(prefix);
  auto it = submodules.find(key);
  if (it != submodules.end())
    return it->second;
  torch::jit::Module &parent = stageModuleAt(parts, depth - 1);
  std::string className = "__torch__.ppc_stage" + std::to_string(stage);
  for (const std::string &p : prefix)
    className += "." + classAtom(p);
  torch::jit::Module sub(c10::QualifiedName(className), cu);
  parent.register_module(parts[depth - 1], sub);
  return submodules.emplace(key, sub).first->second;
}

/// Makes parts[0..n) reachable as attributes of the stage module: modules
/// along the way, and the original leaf (parameter, buffer or plain attribute).
void StageBuilder::registerChain(const std::vector<std::string> &parts) {
  torch::jit::Module original = impl.module;
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    original = original.attr(parts[i]).toModule();
  const std::string &leaf = parts.back();
  c10::IValue value = original.attr(leaf);
  if (value.isModule()) {
    stageModuleAt(parts, parts.size());
    return;
  }
  torch::jit::Module &holder = stageModuleAt(parts, parts.size() - 1);
  if (holder.type()->hasAttribute(leaf))
    return;
  auto type = original.type();
  size_t slot = type->getAttributeSlot(leaf);
  holder.register_attribute(leaf, type->getAttribute(slot), value, type->is_parameter(slot),
                            type->is_buffer(slot));
}

JitValue *StageBuilder::chainValue(const std::vector<std::string> &parts) {
  registerChain(parts);
  JitValue *cur = self;
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string key = joinPath({parts.begin(), parts.begin() + i + 1});
    auto it = chains.find(key);
    if (it == chains.end())
      it = chains.emplace(key, graph->insertGetAttr(cur, parts[i])).first;
    cur = it->second;
  }
  return cur;
}

/// The new graph's value for IR value `v`.
JitValue *StageBuilder::valueOf(Value *v) {
  auto it = env.find(v);
  if (it != env.end())
    return it->second;
  JitValue *result = nullptr;
  if (v->kind == ValueKind::Param) {
    llvm::SmallVector<llvm::StringRef, 8> parts;
    llvm::StringRef(v->name).split(parts, '.');
    result = chainValue({parts.begin(), parts.end()});
  } else if (v->kind == ValueKind::Constant) {
    auto *old = static_cast<JitValue *>(v->handle);
    result =
        graph->insertNode(graph->createClone(old->node(), [](JitValue *x) { return x; }))->output();
  } else {
    throw InternalError("stage " + std::to_string(stage) + " reads %" + v->name +
                        ", which it neither computes nor receives");
  }
  return env[v] = result;
}

/// Maps an old value met while cloning a node (its operands and the free
/// variables of its blocks).
JitValue *StageBuilder::mapFree(JitValue *old,
                                const std::unordered_map<JitValue *, Value *> &operands) {
  auto it = operands.find(old);
  if (it != operands.end())
    return valueOf(it->second);
  if (old == impl.inlined->inputs().at(0))
    return self;
  if (auto chain = attributeChain(old))
    return chainValue(*chain);
  if (old->node()->kind() == c10::prim::Constant)
    return graph->insertNode(graph->createClone(old->node(), [](JitValue *x) { return x; }))
        ->output();
  throw InternalError("no value for %" + old->debugName() + " in stage " + std::to_string(stage));
}

void StageBuilder::preregisterBlockAttributes(Block *b) {
  for (Node *n : b->nodes()) {
    if (n->kind() == c10::prim::GetAttr)
      if (auto chain = attributeChain(n->output()))
        registerChain(*chain);
    for (Block *sub : n->blocks())
      preregisterBlockAttributes(sub);
  }
}

/// Cloned GetAttr nodes keep the original class types; give them the stage's.
void StageBuilder::retypeBlockAttributes(Block *b) {
  for (Node *n : b->nodes()) {
    if (n->kind() == c10::prim::GetAttr)
      if (auto cls = n->input(0)->type()->cast<c10::ClassType>())
        n->output()->setType(cls->getAttribute(n->s(c10::attr::name)));
    for (Block *sub : n->blocks())
      retypeBlockAttributes(sub);
  }
}

void StageBuilder::emitCopy(const Op &op) {
  JitValue *in = valueOf(op.inputs[0]);
  c10::Symbol kind = op.inputs[0]->isTensor() ? c10::aten::clone : c10::aten::list;
  env[op.results[0]] = graph->insert(kind, {in});
}

void StageBuilder::emitOp(const Op &op) {
  if (op.kind == kCloneOp)
    return emitCopy(op);
  auto *old = static_cast<Node *>(op.handle);
  std::unordered_map<JitValue *, Value *> operands;
  for (size_t i = 0; i < op.inputs.size(); ++i) {
    void *slot = i < op.operandHandles.size() ? op.operandHandles[i] : nullptr;
    operands[static_cast<JitValue *>(slot ? slot : op.inputs[i]->handle)] = op.inputs[i];
  }
  for (Block *b : old->blocks())
    preregisterBlockAttributes(b);
  Node *copy = graph->createClone(old, [&](JitValue *v) { return mapFree(v, operands); });
  graph->insertNode(copy);
  for (Block *b : copy->blocks())
    retypeBlockAttributes(b);
  for (size_t i = 0; i < op.results.size(); ++i)
    env[op.results[i]] = copy->output(i);
}

/// True for Optional[Tensor] and tuples holding one, at any depth.
bool holdsOptionalTensor(const c10::TypePtr &t) {
  if (auto opt = t->cast<c10::OptionalType>())
    return opt->getElementType()->kind() == c10::TypeKind::TensorType;
  auto tuple = t->cast<c10::TupleType>();
  return tuple && !tuple->schema() && llvm::any_of(tuple->elements(), holdsOptionalTensor);
}

/// `v` with None for an absent optional tensor. Ops return one as an
/// undefined tensor (MultiheadAttention's weights with need_weights=False),
/// which TorchScript treats as None (`is None` holds), but the next stage's
/// call cannot type an Optional[Tensor] argument or a tuple holding one
/// (`strides() called on an undefined Tensor`), in C++ or Python.
JitValue *StageBuilder::noneForUndefined(JitValue *v) {
  if (!holdsOptionalTensor(v->type()))
    return v;
  if (auto tuple = v->type()->cast<c10::TupleType>()) {
    Node *unpack = graph->insertNode(graph->createTupleUnpack(v));
    std::vector<JitValue *> items;
    for (JitValue *e : unpack->outputs())
      items.push_back(noneForUndefined(e));
    return graph->insertNode(graph->createTuple(items))->output();
  }
  JitValue *isNone = graph->insert(c10::aten::__is__, {v, graph->insertConstant(c10::IValue())});
  Node *choice = graph->insertNode(graph->create(c10::prim::If, {isNone}, 1));
  choice->output()->setType(v->type());
  Block *none = choice->addBlock();
  {
    torch::jit::WithInsertPoint inNone(none);
    none->registerOutput(graph->insertConstant(c10::IValue()));
  }
  choice->addBlock()->registerOutput(v);
  return choice->output();
}

torch::jit::Module StageBuilder::build() {
  self = graph->addInput("self")->setType(module.type());
  for (Value *in : io.inputs) {
    auto *old = static_cast<JitValue *>(in->handle);
    env[in] = graph->addInput(in->name)->setType(c10::unshapedType(old->type()));
  }
  for (unsigned i = ops.begin; i < ops.end; ++i)
    emitOp(*g.ops()[i]);
  std::vector<JitValue *> outs;
  for (Value *out : io.outputs)
    outs.push_back(noneForUndefined(valueOf(out)));
  graph->registerOutput(graph->insertNode(graph->createTuple(outs))->output());
  graph->lint();
  auto *fn = cu->create_function(c10::QualifiedName(*module.type()->name(), "forward"), graph);
  module.type()->addMethod(fn);
  return module;
}

} // namespace

torch::jit::Module ppc::buildStageModule(Model &model, int stage) {
  const Graph &g = model.graph();
  OpRange ops{unsigned(g.ops().size()), 0};
  for (const auto &op : g.ops())
    if (op->stage == stage) {
      ops.begin = std::min(ops.begin, op->index);
      ops.end = op->index + 1;
    }
  if (ops.end == 0)
    ops.begin = 0;
  return StageBuilder(model.impl(), ops, g.stageInterfaces.at(stage), stage).build();
}

torch::jit::Module ppc::buildRegionModule(Model &model, const OpRange &ops,
                                          const StageInterface &io, int id) {
  return StageBuilder(model.impl(), ops, io, id).build();
}

StageInterface ppc::regionInterface(const Graph &g, const OpRange &ops) {
  auto inside = [&](const Value *v) {
    return v->def && v->def->index >= ops.begin && v->def->index < ops.end;
  };
  StageInterface io;
  for (Value *in : g.inputs())
    for (unsigned i = ops.begin; i < ops.end; ++i)
      if (llvm::is_contained(g.ops()[i]->inputs, in)) {
        io.inputs.push_back(in);
        break;
      }
  for (unsigned i = ops.begin; i < ops.end; ++i) {
    const Op &op = *g.ops()[i];
    for (Value *in : op.inputs)
      if (in->kind == ValueKind::Result && !inside(in) && !llvm::is_contained(io.inputs, in))
        io.inputs.push_back(in);
    for (Value *r : op.results)
      if (r->isModelOutput ||
          llvm::any_of(r->users, [&](const Op *u) { return u->index >= ops.end; }))
        io.outputs.push_back(r);
  }
  return io;
}

void ppc::saveStageModule(Model &model, int stage, const std::string &file) {
  buildStageModule(model, stage).save(file);
}
