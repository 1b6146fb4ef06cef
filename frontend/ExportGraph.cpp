//===- frontend/ExportGraph.cpp - torch.export graph to TorchScript -------===//
//
// Rebuilds the exported program's graph node by node. A target
// `torch.ops.aten.linear.default` names the operator aten::linear and its
// overload ("default" is the unnamed one); the overload is chosen by name from
// LibTorch's operator registry, never by matching types, so the node runs
// exactly the kernel the program recorded. Arguments are taken by schema name
// (defaults fill what the serializer left out); SymInts become ints
// (aten.sym_size.int becomes aten::size.int) and the symbolic arithmetic on
// them (`_operator.mul`) becomes TorchScript's int builtins, so a dynamic
// batch stays dynamic. Parameters, buffers and lifted constants become
// GetAttr chains on `self` by their qualified names, as in a scripted model.
// Runtime assertions on shapes are dropped: they guard the export, and the
// stages' own kernels check what they need.
//
//===----------------------------------------------------------------------===//
#include "frontend/ExportGraph.h"
#include "frontend/ModelImpl.h"

#include "ir/Diagnostics.h"

#include "llvm/ADT/StringRef.h"

#include <torch/csrc/jit/runtime/operator.h>

#include <unordered_map>

using namespace ppc;
using nlohmann::json;
using torch::jit::Node;
using JitValue = torch::jit::Value;

namespace {

/// The one member of a serialized union ({"as_tensor": {...}}).
std::pair<std::string, const json &> unionMember(const json &u) {
  if (!u.is_object() || u.size() != 1)
    throw CompileError("malformed exported program: expected a one-member union, got " +
                       u.dump().substr(0, 80));
  return {u.begin().key(), u.begin().value()};
}

} // namespace

c10::ScalarType ppc::exportScalarType(int64_t serialized) {
  // torch/_export/serde/schema.py: ScalarType
  static const std::unordered_map<int64_t, c10::ScalarType> types = {{1, c10::kByte},
                                                                     {2, c10::kChar},
                                                                     {3, c10::kShort},
                                                                     {4, c10::kInt},
                                                                     {5, c10::kLong},
                                                                     {6, c10::kHalf},
                                                                     {7, c10::kFloat},
                                                                     {8, c10::kDouble},
                                                                     {9, c10::kComplexHalf},
                                                                     {10, c10::kComplexFloat},
                                                                     {11, c10::kComplexDouble},
                                                                     {12, c10::kBool},
                                                                     {13, c10::kBFloat16},
                                                                     {28, c10::kUInt16},
                                                                     {29, c10::kFloat8_e4m3fn},
                                                                     {30, c10::kFloat8_e5m2},
                                                                     {31, c10::kFloat8_e4m3fnuz},
                                                                     {32, c10::kFloat8_e5m2fnuz}};
  auto it = types.find(serialized);
  if (it == types.end())
    throw CompileError("exported program uses unknown dtype code " + std::to_string(serialized));
  return it->second;
}

namespace {

c10::Layout layout(int64_t serialized) {
  if (serialized != 7) // Strided
    throw CompileError("exported program uses a non-strided layout (code " +
                           std::to_string(serialized) + ")",
                       "ppc supports dense tensors only");
  return c10::kStrided;
}

c10::MemoryFormat memoryFormat(int64_t serialized) {
  switch (serialized) {
  case 1:
    return c10::MemoryFormat::Contiguous;
  case 2:
    return c10::MemoryFormat::ChannelsLast;
  case 3:
    return c10::MemoryFormat::ChannelsLast3d;
  case 4:
    return c10::MemoryFormat::Preserve;
  default:
    throw CompileError("exported program uses unknown memory format code " +
                       std::to_string(serialized));
  }
}

c10::Device device(const json &d) {
  std::string type = d.at("type");
  if (d.contains("index") && !d["index"].is_null())
    type += ":" + std::to_string(d["index"].get<int64_t>());
  return c10::Device(type);
}

/// TorchScript's int builtins for the symbolic-shape arithmetic FX records.
const std::unordered_map<std::string, std::string> &symbolicOps() {
  static const std::unordered_map<std::string, std::string> ops = {
      {"_operator.add", "aten::add"},       {"_operator.sub", "aten::sub"},
      {"_operator.mul", "aten::mul"},       {"_operator.floordiv", "aten::floordiv"},
      {"_operator.mod", "aten::remainder"}, {"_operator.truediv", "aten::div"},
      {"_operator.neg", "aten::neg"},       {"_operator.pow", "aten::pow"},
      {"_operator.eq", "aten::eq"},         {"_operator.ne", "aten::ne"},
      {"_operator.lt", "aten::lt"},         {"_operator.le", "aten::le"},
      {"_operator.gt", "aten::gt"},         {"_operator.ge", "aten::ge"},
      {"_operator.and_", "aten::__and__"},  {"_operator.or_", "aten::__or__"},
      {"torch.sym_not", "aten::__not__"},   {"torch.sym_float", "aten::Float"},
      {"torch.sym_int", "aten::Int"},       {"torch.sym_max", "prim::max"},
      {"torch.sym_min", "prim::min"}};
  return ops;
}

/// Overloads replaced: shape queries on SymInts by their int-returning
/// TorchScript forms, and view by reshape.
const std::unordered_map<std::string, std::string> &sizeQueries() {
  static const std::unordered_map<std::string, std::string> ops = {
      {"aten::sym_size.int", "aten::size.int"},
      {"aten::sym_stride.int", "aten::stride.int"},
      {"aten::sym_numel.", "aten::numel."},
      {"aten::sym_storage_offset.", "aten::storage_offset."},
      // The export drops .contiguous() calls that were no-ops on the strides its kernels
      // gave; at run time a kernel may give others (sdpa under autograd in TorchScript), and
      // view would throw. reshape is the same view wherever view succeeds, a copy elsewhere.
      {"aten::view.", "aten::reshape."}};
  return ops;
}

/// Splits "key,path,type" at top-level commas (a type may hold brackets).
std::vector<std::string> splitStackEntry(const std::string &entry) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < entry.size(); ++i) {
    char c = entry[i];
    depth += (c == '(' || c == '[') - (c == ')' || c == ']');
    if (c == ',' && depth == 0) {
      parts.push_back(entry.substr(start, i - start));
      start = i + 1;
    }
  }
  parts.push_back(entry.substr(start));
  return parts;
}

/// "h.0@1" (the second call of h.0) -> "h.0".
std::string stripCallIndex(std::string path) {
  auto at = path.find('@');
  return at == std::string::npos ? path : path.substr(0, at);
}

class ExportGraphBuilder {
public:
  ExportGraphBuilder(const json &graphModule, const torch::jit::Module &module)
      : gm(graphModule), sig(graphModule.at("signature")), module(module),
        graph(std::make_shared<torch::jit::Graph>()) {}
  std::shared_ptr<torch::jit::Graph> run();

private:
  void addInputs();
  void addNode(const json &node);
  void addOperatorNode(const json &node, const std::string &qualified, const std::string &target);
  void addSymbolicNode(const json &node, const std::string &op);
  void bindOutputs(const json &node, Node *n);
  void addOutputs();
  JitValue *attributeValue(const std::string &fqn);
  JitValue *lookup(const std::string &name) const;
  JitValue *argument(const json &arg, const c10::TypePtr &formal);
  JitValue *symbolic(const json &arg, const char *nameKey);
  c10::TypePtr tensorType(const std::string &name) const;
  [[noreturn]] void fail(const std::string &why, const std::string &hint = "") const;

  const json &gm;
  const json &sig;
  const torch::jit::Module &module;
  std::shared_ptr<torch::jit::Graph> graph;
  JitValue *self = nullptr;
  std::unordered_map<std::string, JitValue *> values; // FX names
  std::unordered_map<std::string, JitValue *> chains; // GetAttr values by path
  const json *current = nullptr;                      // the node being built
};

void ExportGraphBuilder::fail(const std::string &why, const std::string &hint) const {
  std::string where;
  if (current)
    where = "node '" + current->value("name", std::string("?")) + "' (" +
            current->value("target", std::string("?")) + "): ";
  throw CompileError("exported program: " + where + why, hint);
}

JitValue *ExportGraphBuilder::attributeValue(const std::string &fqn) {
  llvm::SmallVector<llvm::StringRef, 8> parts;
  llvm::StringRef(fqn).split(parts, '.');
  JitValue *cur = self;
  std::string prefix;
  for (llvm::StringRef part : parts) {
    prefix += (prefix.empty() ? "" : ".") + part.str();
    auto it = chains.find(prefix);
    if (it == chains.end())
      it = chains.emplace(prefix, graph->insertGetAttr(cur, part.str())).first;
    cur = it->second;
  }
  return cur;
}

JitValue *ExportGraphBuilder::lookup(const std::string &name) const {
  auto it = values.find(name);
  if (it == values.end())
    fail("reads '" + name + "', which no earlier node or input defines");
  return it->second;
}

c10::TypePtr ExportGraphBuilder::tensorType(const std::string &name) const {
  const json &tv = gm.at("graph").at("tensor_values");
  auto it = tv.find(name);
  if (it == tv.end())
    return c10::TensorType::get();
  c10::TensorTypePtr t = c10::TensorType::get()->withScalarType(exportScalarType(it->at("dtype")));
  std::vector<int64_t> sizes;
  for (const json &s : it->at("sizes")) {
    auto [kind, v] = unionMember(s);
    if (kind != "as_int")
      return t; // a symbolic dimension: dtype only, the shape varies
    sizes.push_back(v.get<int64_t>());
  }
  return t->withSizes(sizes);
}

void ExportGraphBuilder::addInputs() {
  for (const json &spec : sig.at("input_specs")) {
    auto [kind, body] = unionMember(spec);
    if (kind == "parameter")
      values[body.at("arg").at("name")] = attributeValue(body.at("parameter_name"));
    else if (kind == "buffer")
      values[body.at("arg").at("name")] = attributeValue(body.at("buffer_name"));
    else if (kind == "tensor_constant")
      values[body.at("arg").at("name")] = attributeValue(body.at("tensor_constant_name"));
    else if (kind == "constant_input")
      continue; // a non-tensor argument the export baked in
    else if (kind == "user_input") {
      auto [argKind, arg] = unionMember(body.at("arg"));
      std::string name;
      c10::TypePtr type;
      if (argKind == "as_tensor")
        name = arg.at("name"), type = tensorType(name);
      else if (argKind == "as_sym_int" && arg.contains("as_name"))
        name = arg.at("as_name"), type = c10::IntType::get();
      else
        fail("user input of kind '" + argKind + "' is not supported",
             "pass tensors (or ints with a dynamic dimension) to the exported model");
      values[name] = graph->addInput(name)->setType(type);
    } else {
      fail("graph input of kind '" + kind + "' is not supported");
    }
  }
}

/// A SymInt/SymFloat/SymBool argument: a named value or a constant.
JitValue *ExportGraphBuilder::symbolic(const json &arg, const char *nameKey) {
  auto [kind, v] = unionMember(arg);
  if (kind == nameKey)
    return lookup(v.get<std::string>());
  if (kind == "as_int" || kind == "as_float" || kind == "as_bool")
    return graph->insertConstant(kind == "as_int"     ? c10::IValue(v.get<int64_t>())
                                 : kind == "as_float" ? c10::IValue(v.get<double>())
                                                      : c10::IValue(v.get<bool>()));
  fail("unexpected symbolic argument '" + kind + "'");
}

JitValue *ExportGraphBuilder::argument(const json &arg, const c10::TypePtr &formal) {
  auto [kind, v] = unionMember(arg);
  auto constant = [&](const c10::IValue &iv) { return graph->insertConstant(iv); };
  c10::TypePtr base = formal;
  if (auto optional = formal ? formal->cast<c10::OptionalType>() : nullptr)
    base = optional->getElementType();
  bool wantsFloat = base && base->kind() == c10::TypeKind::FloatType;
  // A Python number where the schema takes a Tensor (x.add_(0) records add_.Tensor).
  if (base && base->kind() == c10::TypeKind::TensorType &&
      (kind == "as_int" || kind == "as_float" || kind == "as_bool"))
    return graph->insert(c10::prim::NumToTensor, {argument(arg, nullptr)});
  if (kind == "as_none")
    return constant(c10::IValue());
  if (kind == "as_tensor")
    return lookup(v.at("name"));
  if (kind == "as_optional_tensor")
    return argument(v, formal);
  if (kind == "as_tensors" || kind == "as_optional_tensors") {
    std::vector<JitValue *> elems;
    for (const json &e : v)
      elems.push_back(kind == "as_tensors" ? lookup(e.at("name")) : argument(e, nullptr));
    c10::TypePtr elem = c10::TensorType::get();
    if (kind == "as_optional_tensors")
      elem = c10::OptionalType::create(elem);
    return graph->insertNode(graph->createList(elem, elems))->output();
  }
  if (kind == "as_int")
    return wantsFloat ? constant(double(v.get<int64_t>())) : constant(v.get<int64_t>());
  if (kind == "as_float")
    return constant(v.get<double>());
  if (kind == "as_bool")
    return constant(v.get<bool>());
  if (kind == "as_string")
    return constant(v.get<std::string>());
  if (kind == "as_ints")
    return constant(v.get<std::vector<int64_t>>());
  if (kind == "as_floats")
    return constant(v.get<std::vector<double>>());
  if (kind == "as_bools") {
    c10::List<bool> bools;
    for (const json &b : v)
      bools.push_back(b.get<bool>());
    return constant(bools);
  }
  if (kind == "as_strings")
    return constant(v.get<std::vector<std::string>>());
  if (kind == "as_sym_int")
    return symbolic(v, "as_name");
  if (kind == "as_sym_float" || kind == "as_sym_bool")
    return symbolic(v, "as_name");
  if (kind == "as_sym_ints") {
    std::vector<JitValue *> elems;
    for (const json &e : v)
      elems.push_back(symbolic(e, "as_name"));
    return graph->insertNode(graph->createList(c10::IntType::get(), elems))->output();
  }
  if (kind == "as_scalar_type")
    return constant(int64_t(exportScalarType(v.get<int64_t>())));
  if (kind == "as_layout")
    return constant(int64_t(layout(v.get<int64_t>())));
  if (kind == "as_memory_format")
    return constant(int64_t(memoryFormat(v.get<int64_t>())));
  if (kind == "as_device")
    return constant(device(v));
  if (kind == "as_graph")
    fail("higher-order operators (control flow such as torch.cond, or wrapped subgraphs) are "
         "not supported",
         "export without torch.cond/map/while_loop, or split the model outside them");
  fail("arguments of kind '" + kind + "' are not supported");
}

/// The registered operator `qualified` ("aten::add.Tensor"), by overload name.
std::shared_ptr<torch::jit::Operator> findOperator(const std::string &qualified) {
  auto dot = qualified.rfind('.');
  c10::Symbol sym = c10::Symbol::fromQualString(qualified.substr(0, dot));
  std::string overload = qualified.substr(dot + 1);
  for (const auto &op : torch::jit::getAllOperatorsFor(sym))
    if (op->schema().overload_name() == overload)
      return op;
  return nullptr;
}

void ExportGraphBuilder::addOperatorNode(const json &node, const std::string &qualified,
                                         const std::string &target) {
  auto op = findOperator(qualified);
  if (!op)
    fail("LibTorch has no operator " +
             (qualified.back() == '.' ? qualified.substr(0, qualified.size() - 1) : qualified),
         "custom operators must be registered in C++ (TORCH_LIBRARY) and loaded into ppc; "
         "Python-only ones cannot be compiled");
  const c10::FunctionSchema &schema = op->schema();
  std::unordered_map<std::string, const json *> given;
  for (const json &in : node.at("inputs"))
    given[in.at("name")] = &in.at("arg");
  const json &positional = node.at("inputs");
  std::vector<JitValue *> inputs;
  for (const c10::Argument &formal : schema.arguments()) {
    auto it = given.find(formal.name());
    size_t i = inputs.size();
    if (it != given.end())
      inputs.push_back(argument(*it->second, formal.type()));
    else if (i < positional.size() && positional[i].value("kind", 0) == 1) // renamed (view)
      inputs.push_back(argument(positional[i].at("arg"), formal.type()));
    else if (formal.default_value())
      inputs.push_back(graph->insertConstant(*formal.default_value()));
    else
      fail("argument '" + formal.name() + "' of " + target + " is missing");
  }
  Node *n =
      graph->create(c10::Symbol::fromQualString(schema.name()), inputs, schema.returns().size());
  graph->insertNode(n);
  for (size_t i = 0; i < schema.returns().size(); ++i)
    n->output(i)->setType(schema.returns()[i].type());
  if (!n->maybeOperator())
    fail("its arguments do not match the schema " + c10::toString(schema));
  bindOutputs(node, n);
}

void ExportGraphBuilder::addSymbolicNode(const json &node, const std::string &op) {
  std::vector<torch::jit::NamedValue> args;
  for (const json &in : node.at("inputs"))
    args.emplace_back(argument(in.at("arg"), nullptr));
  JitValue *out = graph->insert(c10::Symbol::fromQualString(op), args);
  const json &outs = node.at("outputs");
  if (outs.size() != 1)
    fail("expected one result");
  auto [kind, v] = unionMember(outs[0]);
  if (!v.is_object() || !v.contains("as_name"))
    fail("expected a named symbolic result, got '" + kind + "'");
  values[v.at("as_name")] = out;
}

/// Names the node's results as the program does; a list result (aten.split)
/// is unpacked into its elements.
void ExportGraphBuilder::bindOutputs(const json &node, Node *n) {
  const json &outs = node.at("outputs");
  auto bind = [&](const json &arg, JitValue *v) {
    auto [kind, body] = unionMember(arg);
    if (kind == "as_tensor") {
      std::string name = body.at("name");
      v->setType(tensorType(name));
      values[name] = v;
    } else if (kind == "as_sym_int" || kind == "as_sym_float" || kind == "as_sym_bool") {
      if (body.contains("as_name"))
        values[body.at("as_name")] = v;
    } else if (kind != "as_none") {
      fail("results of kind '" + kind + "' are not supported");
    }
  };
  if (outs.size() == 1 && n->outputs().size() == 1 &&
      n->output()->type()->kind() == c10::TypeKind::ListType &&
      unionMember(outs[0]).first == "as_tensors") {
    const json &elems = unionMember(outs[0]).second;
    Node *unpack = graph->insertNode(graph->createListUnpack(n->output(), elems.size()));
    for (size_t i = 0; i < elems.size(); ++i)
      bind(json{{"as_tensor", elems[i]}}, unpack->output(i));
    return;
  }
  if (outs.size() != n->outputs().size())
    fail("has " + std::to_string(outs.size()) + " results, its schema " +
         std::to_string(n->outputs().size()));
  for (size_t i = 0; i < outs.size(); ++i)
    bind(outs[i], n->output(i));
}

bool isShapeAssertion(const std::string &qualified) {
  llvm::StringRef q(qualified);
  return q.startswith("aten::_assert_") || q.startswith("aten::sym_constrain_range");
}

void ExportGraphBuilder::addNode(const json &node) {
  current = &node;
  std::string target = node.at("target");
  llvm::StringRef t(target);
  if (t.startswith("torch.ops.higher_order.") || t.contains("_higher_order_ops"))
    fail("higher-order operators (torch.cond, map, while_loop, wrapped subgraphs) are not "
         "supported",
         "export a model without data-dependent control flow");
  auto sym = symbolicOps().find(target);
  if (sym != symbolicOps().end())
    return addSymbolicNode(node, sym->second);
  if (!t.consume_front("torch.ops."))
    fail("calls '" + target + "', which is not an operator overload");
  // "aten.linear.default" -> "aten::linear." (the default overload is unnamed)
  auto [ns, rest] = t.split('.');
  auto [name, overload] = rest.rsplit('.');
  std::string qualified =
      ns.str() + "::" + name.str() + "." + (overload == "default" ? "" : overload.str());
  if (isShapeAssertion(qualified))
    return;
  auto query = sizeQueries().find(qualified);
  if (query != sizeQueries().end())
    qualified = query->second;
  addOperatorNode(node, qualified, target);
}

void ExportGraphBuilder::addOutputs() {
  current = nullptr;
  std::vector<JitValue *> outs;
  for (const json &spec : sig.at("output_specs")) {
    auto [kind, body] = unionMember(spec);
    if (kind == "buffer_mutation" || kind == "user_input_mutation" || kind == "parameter_mutation")
      fail("the program mutates '" +
               body.value("buffer_name", body.value("parameter_name", "an input")) +
               "' in place (" + kind + ")",
           "export in eval mode (BatchNorm updates its running statistics in training mode)");
    if (kind != "user_output")
      fail("graph output of kind '" + kind + "' is not supported");
    auto [argKind, arg] = unionMember(body.at("arg"));
    if (argKind == "as_tensor")
      outs.push_back(lookup(arg.at("name")));
    else if (arg.is_object() && arg.contains("as_name"))
      outs.push_back(lookup(arg.at("as_name")));
    else
      outs.push_back(argument(body.at("arg"), nullptr));
  }
  // One output is returned as is, several as a tuple, as a scripted model would.
  if (outs.size() == 1)
    graph->registerOutput(outs[0]);
  else
    graph->registerOutput(graph->insertNode(graph->createTuple(outs))->output());
}

std::shared_ptr<torch::jit::Graph> ExportGraphBuilder::run() {
  self = graph->addInput("self")->setType(module.type());
  addInputs();
  for (Node *n : graph->nodes())
    setNodePath(n, "");
  std::string path;
  for (const json &node : gm.at("graph").at("nodes")) {
    Node *last = graph->block()->return_node()->prev();
    addNode(node);
    const json &meta = node.value("metadata", json::object());
    if (auto p = innermostModulePath(meta.value("nn_module_stack", std::string())))
      path = *p; // nodes without a stack (shape queries) stay with the node before
    for (Node *n = last->next(); n != graph->block()->return_node(); n = n->next())
      setNodePath(n, path);
  }
  Node *last = graph->block()->return_node()->prev();
  addOutputs();
  for (Node *n = last->next(); n != graph->block()->return_node(); n = n->next())
    setNodePath(n, "");
  graph->lint();
  return graph;
}

} // namespace

std::vector<std::string> ppc::modulePaths(const std::string &stack) {
  std::vector<std::string> paths;
  llvm::SmallVector<llvm::StringRef, 8> entries;
  llvm::StringRef(stack).split(entries, ';', -1, false);
  for (llvm::StringRef entry : entries) {
    std::vector<std::string> parts = splitStackEntry(entry.str());
    if (parts.size() != 3 || parts[0] == "_empty_nn_module_stack_from_metadata_hook")
      continue;
    paths.push_back(stripCallIndex(parts[1]));
  }
  return paths;
}

std::optional<std::string> ppc::innermostModulePath(const std::string &stack) {
  std::vector<std::string> paths = modulePaths(stack);
  if (paths.empty())
    return std::nullopt;
  return paths.back();
}

std::shared_ptr<torch::jit::Graph> ppc::buildExportGraph(const json &graphModule,
                                                         const torch::jit::Module &module) {
  return ExportGraphBuilder(graphModule, module).run();
}
