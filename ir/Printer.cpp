//===- ir/Printer.cpp - Text form of the ppc IR ---------------------------===//
//
// Writes the text form documented in Printer.h. Types are printed without
// spaces so that every token on a line is whitespace-free.
//
//===----------------------------------------------------------------------===//
#include "ir/Printer.h"

#include "llvm/ADT/StringExtras.h"

using namespace ppc;

std::string ppc::valueRef(const Value &v) {
  switch (v.kind) {
  case ValueKind::Param:
    return "$" + v.name;
  case ValueKind::Constant:
    return "#" + v.name;
  default:
    return "%" + v.name;
  }
}

static std::string tensorText(const TensorInfo &t) {
  if (t.dtype.empty() && !t.hasShape)
    return "";
  std::string s = ":" + (t.dtype.empty() ? std::string("?") : t.dtype);
  if (!t.hasShape)
    return s;
  s += "[";
  for (size_t i = 0; i < t.shape.size(); ++i)
    s += (i ? "," : "") + std::to_string(t.shape[i]);
  return s + "]";
}

std::string ppc::typeText(const Value &v) {
  std::string type = v.type;
  llvm::erase_if(type, [](char c) { return c == ' '; });
  return type + tensorText(v.tensor);
}

static void printOpAttributes(const Op &op, llvm::raw_ostream &os) {
  llvm::SmallVector<std::string, 4> attrs;
  if (op.hasBlocks)
    attrs.push_back("blocks");
  if (!op.innerModules.empty())
    attrs.push_back("inner=" + llvm::join(op.innerModules, ","));
  if (op.writes()) {
    llvm::SmallVector<std::string, 2> idx;
    for (unsigned i : op.writtenInputs)
      idx.push_back(std::to_string(i));
    attrs.push_back("writes=" + llvm::join(idx, ","));
  }
  bool anyView = llvm::any_of(op.resultAliases, [](int a) { return a >= 0; });
  if (anyView) {
    llvm::SmallVector<std::string, 2> idx;
    for (int a : op.resultAliases)
      idx.push_back(std::to_string(a));
    attrs.push_back("views=" + llvm::join(idx, ","));
  }
  if (!attrs.empty())
    os << " [" << llvm::join(attrs, " ") << "]";
}

static void printOp(const Op &op, llvm::raw_ostream &os) {
  os << "  ";
  for (size_t i = 0; i < op.results.size(); ++i)
    os << (i ? ", " : "") << valueRef(*op.results[i]) << " : " << typeText(*op.results[i]);
  if (!op.results.empty())
    os << " = ";
  os << op.kind << "(";
  for (size_t i = 0; i < op.inputs.size(); ++i)
    os << (i ? ", " : "") << valueRef(*op.inputs[i]);
  os << ")";
  if (!op.path.empty())
    os << " @" << op.path;
  printOpAttributes(op, os);
  os << "\n";
}

static void printDeclarations(const Graph &g, llvm::raw_ostream &os) {
  for (const auto &v : g.values()) {
    if (v->kind == ValueKind::Param)
      os << "  param " << valueRef(*v) << " : " << typeText(*v) << "\n";
    if (v->kind == ValueKind::Constant && !v->users.empty())
      os << "  const " << valueRef(*v) << " : " << typeText(*v) << " = " << v->literal << "\n";
  }
}

/// The module list on lines of at most about 100 columns (the parser reads
/// any number of `modules` lines), and the split points.
static void printModules(const Graph &g, llvm::raw_ostream &os) {
  size_t column = 0;
  for (const std::string &m : g.modules) {
    if (column > 0 && column + m.size() + 2 > 100) {
      os << "\n";
      column = 0;
    }
    os << (column == 0 ? "  modules " : ", ") << m;
    column += (column == 0 ? 10 : 2) + m.size();
  }
  if (column > 0)
    os << "\n";
  if (g.splits.empty())
    return;
  llvm::SmallVector<std::string, 4> splits;
  for (const SplitPoint &s : g.splits)
    splits.push_back(s.str());
  os << "  splits " << llvm::join(splits, ", ") << "\n";
}

static void printInterface(const StageInterface &io, llvm::raw_ostream &os) {
  os << "  ; in:";
  for (const Value *v : io.inputs)
    os << " " << valueRef(*v);
  os << "  out:";
  for (const Value *v : io.outputs)
    os << " " << valueRef(*v);
}

static void printCrossStage(const Graph &g, llvm::raw_ostream &os) {
  os << "cross-stage values:\n";
  for (const CrossStageValue &c : g.crossStage) {
    os << "  " << valueRef(*c.value) << " : " << typeText(*c.value) << "  ";
    os << (c.producer < 0 ? std::string("input") : "stage " + std::to_string(c.producer));
    os << " -> ";
    for (size_t i = 0; i < c.consumers.size(); ++i)
      os << (i ? ", " : "") << c.consumers[i];
    if (c.producer >= 0 && c.isSkip())
      os << "  skip";
    os << "\n";
  }
}

void ppc::printGraph(const Graph &g, llvm::raw_ostream &os, const PrintOptions &opts) {
  os << "graph(";
  for (size_t i = 0; i < g.inputs().size(); ++i)
    os << (i ? ", " : "") << valueRef(*g.inputs()[i]) << " : " << typeText(*g.inputs()[i]);
  os << ") {\n";
  if (opts.modules)
    printModules(g, os);
  if (opts.declarations)
    printDeclarations(g, os);
  int stage = -1;
  for (const auto &op : g.ops()) {
    if (g.numStages > 0 && op->stage != stage) {
      stage = op->stage;
      os << "stage " << stage << ":";
      if (opts.interfaces && stage < int(g.stageInterfaces.size()))
        printInterface(g.stageInterfaces[stage], os);
      os << "\n";
    }
    printOp(*op, os);
  }
  os << "  return (";
  for (size_t i = 0; i < g.outputs().size(); ++i)
    os << (i ? ", " : "") << valueRef(*g.outputs()[i]);
  os << ")\n}\n";
  if (opts.crossStage && !g.crossStage.empty())
    printCrossStage(g, os);
}

std::string ppc::graphToString(const Graph &g, const PrintOptions &opts) {
  std::string s;
  llvm::raw_string_ostream os(s);
  printGraph(g, os, opts);
  return os.str();
}
