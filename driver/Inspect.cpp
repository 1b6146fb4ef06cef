//===- driver/Inspect.cpp - `ppc inspect DIR` and Graphviz output ---------===//
//
// Reads a compiled directory back: the stage table comes from pipeline.json
// and from the partitioned IR that ppc stores beside it (ir.txt), which is
// parsed with the IR's own parser and printed again.
//
//===----------------------------------------------------------------------===//
#include "driver/Driver.h"

#include "ir/Diagnostics.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "passes/CostModel.h"
#include "passes/CrossStageValues.h"
#include "runtime/Manifest.h"

#include "llvm/Support/Format.h"

#include <fstream>
#include <sstream>

using namespace ppc;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream file(path);
  if (!file)
    throw CompileError("'" + path + "' not found", "is this a directory written by ppc?");
  std::stringstream ss;
  ss << file.rdbuf();
  return ss.str();
}

std::unique_ptr<Graph> parseStoredIR(const std::string &text, const std::string &where) {
  std::string error;
  auto g = parseGraph(text, error);
  if (!g)
    throw CompileError("'" + where + "' does not parse: " + error);
  findCrossStageValues(*g);
  return g;
}

/// `m`'s parent and, when its last component is a number, that number.
std::pair<llvm::StringRef, int> splitIndex(llvm::StringRef m) {
  auto [parent, last] = m.rsplit('.');
  int index = -1;
  if (last != m && last.getAsInteger(10, index))
    index = -1;
  return {last == m ? llvm::StringRef() : parent, index};
}

/// Module names with runs of numbered siblings folded: transformer.h.{0..5}.
std::vector<std::string> summariseModules(const std::vector<std::string> &modules) {
  std::vector<std::string> out;
  for (size_t i = 0; i < modules.size();) {
    auto [parent, first] = splitIndex(modules[i]);
    size_t j = i + 1;
    while (first >= 0 && j < modules.size() &&
           splitIndex(modules[j]) == std::make_pair(parent, first + int(j - i)))
      ++j;
    if (j - i >= 3) {
      out.push_back(parent.str() + ".{" + std::to_string(first) + ".." +
                    std::to_string(first + int(j - i) - 1) + "}");
      i = j;
      continue;
    }
    out.push_back(modules[i++]);
  }
  return out;
}

/// Prints the summarised module list wrapped at 100 columns, continuation
/// lines indented to `indent`.
void printModuleList(const std::vector<std::string> &modules, unsigned indent,
                     llvm::raw_ostream &out) {
  unsigned column = indent;
  bool first = true;
  for (const std::string &m : summariseModules(modules)) {
    if (!first && column + m.size() + 2 > 100) {
      out << ",\n";
      out.indent(indent);
      column = indent;
    } else if (!first) {
      out << ", ";
      column += 2;
    }
    out << m;
    column += m.size();
    first = false;
  }
  out << "\n";
}

/// Bytes of a value crossing stages, counted as the partitioner counts them
/// (every tensor of a tuple or list built in the IR).
int64_t valueBytes(const Graph &g, const std::string &name) {
  const Value *v = g.lookup(name);
  return v ? transferBytes(*v) : 8;
}

void printStageTable(const rt::Manifest &manifest, const Graph &g, llvm::raw_ostream &out) {
  out << "stage     ops   params  param bytes     bytes in    bytes out  modules\n";
  for (const rt::StageSpec &stage : manifest.stages) {
    int k = stage.index;
    size_t ops = llvm::count_if(g.ops(), [&](const auto &op) { return op->stage == k; });
    int64_t in = 0, outBytes = 0;
    for (const rt::StageInput &v : stage.inputs)
      in += valueBytes(g, v.value);
    for (const std::string &v : stage.outputs)
      outBytes += valueBytes(g, v);
    out << llvm::format("%-6d %6zu %8zu %12lld %12lld %12lld  ", k, ops, stage.parameters.size(),
                        (long long)stage.cost.paramBytes, (long long)in, (long long)outBytes);
    printModuleList(stage.modules, /*indent=*/59, out);
  }
}

} // namespace

int ppc::inspectStages(const std::string &dir, const std::string &dotFile, llvm::raw_ostream &out) {
  rt::Manifest manifest;
  try {
    manifest = rt::readManifest(dir);
  } catch (const std::runtime_error &e) {
    throw CompileError(e.what(), "is this a directory written by ppc?");
  }
  std::string irText = readFile(dir + "/ir.txt");
  auto g = parseStoredIR(irText, dir + "/ir.txt");
  printStageTable(manifest, *g, out);
  out << "\n";
  printGraph(*g, out);
  if (!dotFile.empty())
    writeDot(irText, dotFile);
  return 0;
}

void ppc::writeDot(const std::string &irText, const std::string &file) {
  auto g = parseStoredIR(irText, "the IR");
  std::ofstream dot(file);
  if (!dot)
    throw CompileError("cannot write '" + file + "'");
  dot << "digraph pipeline {\n  rankdir=LR;\n  node [shape=box];\n  inputs [shape=ellipse];\n";
  for (int k = 0; k < g->numStages; ++k) {
    size_t ops = llvm::count_if(g->ops(), [&](const auto &op) { return op->stage == k; });
    dot << "  stage" << k << " [label=\"stage " << k << "\\n" << ops << " ops\"];\n";
  }
  for (const CrossStageValue &c : g->crossStage) {
    std::string from = c.producer < 0 ? "inputs" : "stage" + std::to_string(c.producer);
    for (int to : c.consumers) {
      bool skip = c.producer >= 0 && to != c.producer + 1;
      dot << "  " << from << " -> stage" << to << " [label=\"%" << c.value->name << "\""
          << (skip ? ", style=dashed, color=blue" : "") << "];\n";
    }
  }
  dot << "}\n";
}
