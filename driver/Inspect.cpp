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
#include "passes/CrossStageValues.h"

#include "llvm/Support/Format.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

using namespace ppc;
using nlohmann::json;

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

int64_t valueBytes(const json &values, const std::string &name) {
  if (!values.contains(name))
    return 0;
  const json &v = values.at(name);
  if (!v.contains("shape") || !v.contains("dtype"))
    return 8; // a scalar or an unknown shape: counted as one word
  Value probe;
  probe.tensor.dtype = v.at("dtype");
  probe.tensor.hasShape = true;
  for (int64_t d : v.at("shape"))
    probe.tensor.shape.push_back(d);
  return std::max<int64_t>(0, probe.tensor.bytes());
}

void printStageTable(const json &manifest, const Graph &g, llvm::raw_ostream &out) {
  const json &values = manifest.at("values");
  out << "stage     ops   params  param bytes     bytes in    bytes out  modules\n";
  for (const json &stage : manifest.at("stages")) {
    int k = stage.at("index");
    size_t ops = llvm::count_if(g.ops(), [&](const auto &op) { return op->stage == k; });
    int64_t in = 0, outBytes = 0;
    for (const json &v : stage.at("inputs"))
      in += valueBytes(values, v.at("value"));
    for (const json &v : stage.at("outputs"))
      outBytes += valueBytes(values, v);
    int64_t paramBytes = stage.contains("cost") ? stage["cost"].value("param_bytes", 0) : 0;
    std::string modules;
    for (const json &m : stage.at("modules"))
      modules += (modules.empty() ? "" : ", ") + m.get<std::string>();
    out << llvm::format("%-6d %6zu %8zu %12lld %12lld %12lld  %s\n", k, ops,
                        stage.at("parameters").size(), (long long)paramBytes, (long long)in,
                        (long long)outBytes, modules.c_str());
  }
}

} // namespace

int ppc::inspectStages(const std::string &dir, const std::string &dotFile, llvm::raw_ostream &out) {
  json manifest;
  try {
    manifest = json::parse(readFile(dir + "/pipeline.json"));
  } catch (const json::exception &e) {
    throw CompileError("'" + dir + "/pipeline.json' is not valid: " + e.what());
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
