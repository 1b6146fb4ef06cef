//===- driver/Opt.cpp - `ppc opt IR.txt --passes=a,b` ---------------------===//
//
// Runs registered passes on IR text and prints the result, like LLVM's opt:
// pass tests are IR files with the expected output in CHECK lines beside
// them. The parsed IR and the IR after every pass are verified.
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
  if (opts.timePasses)
    pm.printTimings(err);
  return 0;
}
