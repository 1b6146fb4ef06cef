//===- driver/Opt.cpp - `ppc opt IR.txt --passes=a,b` ---------------------===//
//
// Runs registered passes on IR text and prints the result, like LLVM's opt:
// pass tests are IR files with the expected output in CHECK lines beside
// them. The parsed IR and the IR after every pass are verified.
// Every `param` of the IR is a parameter (as if the frontend had listed it),
// except names given with --buffer; --tie groups names as the frontend's
// --tie does, and --print-parameters prints what assign-parameters decided,
// which the IR text does not show.
//
//===----------------------------------------------------------------------===//
#include "driver/Driver.h"

#include "ir/Diagnostics.h"
#include "ir/Parser.h"
#include "ir/Printer.h"
#include "passes/PassManager.h"
#include "passes/PlaceSplits.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace ppc;

static std::string passNames() {
  std::string names;
  for (const RegisteredPass &p : registeredPasses())
    names += (names.empty() ? "" : ", ") + std::string(p.name);
  return names;
}

/// Fills Graph::params from the IR's `param` values, as the frontend does
/// from the model's parameters and buffers, and adds the user's ties.
static void registerParameters(Graph &g, const OptOptions &opts) {
  for (const std::string &name : opts.buffers)
    if (!g.findParam(name))
      throw CompileError("--buffer " + name + ": the IR has no 'param $" + name + "'");
  for (const auto &v : g.values())
    if (v->kind == ValueKind::Param) {
      bool buffer = llvm::is_contained(opts.buffers, v->name);
      g.params.push_back({v->name, !buffer, buffer, v->tensor});
    }
  for (const std::string &tie : opts.ties) {
    auto [a, b] = llvm::StringRef(tie).split('=');
    if (a.empty() || b.empty())
      throw CompileError("bad --tie '" + tie + "'", "write --tie NAME_A=NAME_B");
    for (llvm::StringRef name : {a, b})
      if (!g.findParam(name.str()))
        throw CompileError("--tie " + tie + ": the IR has no 'param $" + name.str() + "'");
    g.ties.push_back({{a.str(), b.str()}, {}});
  }
}

/// The parameters of every stage and the stages of every tied group: the IR
/// text shows which ops read a parameter, not who holds it or shares its grad.
static void printParameters(const Graph &g, llvm::raw_ostream &out) {
  out << "stage parameters:\n";
  for (size_t k = 0; k < g.stageInterfaces.size(); ++k) {
    out << "  stage " << k << ":";
    for (const std::string &name : g.stageInterfaces[k].parameters)
      out << " $" << name;
    out << "\n";
  }
  out << "tied groups:\n";
  for (const Tie &tie : g.ties) {
    out << " ";
    for (const std::string &name : tie.parameters)
      out << " $" << name;
    out << "  stages";
    for (size_t i = 0; i < tie.stages.size(); ++i)
      out << (i ? ", " : " ") << tie.stages[i];
    out << "\n";
  }
}

int ppc::optIR(const OptOptions &opts, llvm::raw_ostream &out, llvm::raw_ostream &err) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(opts.irFile);
  if (!buffer)
    throw CompileError("cannot read '" + opts.irFile + "'");
  std::string error;
  std::unique_ptr<Graph> g = parseGraph((*buffer)->getBuffer(), error);
  if (!g)
    throw CompileError("'" + opts.irFile + "' " + error);
  std::string invalid = g->verify();
  if (!invalid.empty())
    throw CompileError("'" + opts.irFile + "' is not valid IR: " + invalid);
  for (const std::string &spec : opts.splitSpecs)
    for (const SplitPoint &s : parseSplitSpec(spec))
      g->splits.push_back(s);
  registerParameters(*g, opts);
  PassManager pm;
  pm.verifyEach = true;
  pm.printAfterAll = opts.printAfterAll;
  pm.printStream = &err;
  llvm::SmallVector<llvm::StringRef, 8> names;
  llvm::StringRef(opts.passes).split(names, ',', -1, false);
  for (llvm::StringRef name : names)
    if (!pm.addRegistered(name.trim()))
      throw CompileError("unknown pass '" + name.trim().str() + "'", "passes: " + passNames());
  pm.run(*g);
  PrintOptions print;
  print.interfaces = true;
  printGraph(*g, out, print);
  if (opts.printParameters)
    printParameters(*g, out);
  if (opts.timePasses)
    pm.printTimings(err);
  return 0;
}
