//===- tools/ppc.cpp - The ppc compiler driver ----------------------------===//
//
// Parses the command line (design §2) and reports errors at the boundary:
// every failure is one or two lines and a non-zero exit, never a backtrace.
//
//===----------------------------------------------------------------------===//
#include "driver/Driver.h"
#include "ir/Diagnostics.h"
#include "support/ErrorText.h"
#include "support/HostMemory.h"
#include "support/MemoryCounter.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>
#include <string>
#include <vector>

using namespace ppc;

static const char *kUsage = R"(usage:
  ppc MODEL.pt -o DIR [--split PATH:begin|end]... [--stages N] [--example-inputs IO.pt]
                      [--balance time|flops|params] [--for infer|train] [--refine N]
                      [--optimizer sgd|adam] [--loss cross_entropy|mse|LOSS.pt]
                      [--recompute none|all|auto] [--tie A=B]... [--print-ir] [--dot FILE]
                      [--print-plan] [--simulate SCHEDULE:M=8|all:M=8] [--link-gbps X]
                      [--max-stage-mb X] [--print-after-all] [--time-passes] [--force]
  ppc MODEL.pt --print-ir [--split ...]     print the IR with module paths, write nothing
  ppc inspect DIR [--dot FILE]              stage table and partitioned IR of a compiled dir
  ppc verify MODEL.pt DIR --inputs IO.pt [--tolerance X]
  ppc merge MODEL.pt DIR -o OUT.pt          put trained stage parameters back into the model
  ppc opt IR.txt --passes=P1,P2 [--split PATH:begin|end]... [--print-after-all] [--time-passes]
                 [--buffer NAME]... [--tie A=B]... [--print-parameters]
                                            run passes on IR text (verified after each), print it;
                                            --print-parameters: each stage's and tied parameters
)";

namespace {

class Args {
public:
  Args(int argc, char **argv) : items(argv + 1, argv + argc) {}
  bool empty() const { return pos >= items.size(); }
  std::string next() { return items[pos++]; }
  /// The value after option `name` (CompileError if missing).
  std::string value(const std::string &name) {
    if (empty())
      throw CompileError("option " + name + " needs a value", "see ppc --help");
    return next();
  }
  double number(const std::string &name) {
    std::string v = value(name);
    char *end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end)
      throw CompileError("option " + name + " needs a number, got '" + v + "'");
    return d;
  }

private:
  std::vector<std::string> items;
  size_t pos = 0;
};

[[noreturn]] void unknownOption(const std::string &arg) {
  throw CompileError("unknown option '" + arg + "'", "see ppc --help");
}

std::vector<std::string> positionals(Args &args, size_t count, const char *what,
                                     std::vector<std::pair<std::string, std::string *>> opts) {
  std::vector<std::string> pos;
  while (!args.empty()) {
    std::string a = args.next();
    bool matched = false;
    for (auto &[name, target] : opts)
      if (a == name) {
        *target = args.value(name);
        matched = true;
      }
    if (matched)
      continue;
    if (llvm::StringRef(a).startswith("-"))
      unknownOption(a);
    pos.push_back(a);
  }
  if (pos.size() != count)
    throw CompileError(std::string("usage: ") + what, "see ppc --help");
  return pos;
}

int runCompile(Args &args) {
  CompileOptions o;
  while (!args.empty()) {
    std::string a = args.next();
    if (a == "-o" || a == "--output")
      o.outDir = args.value(a);
    else if (a == "--split")
      o.splitSpecs.push_back(args.value(a));
    else if (a == "--stages")
      o.stages = int(args.number(a));
    else if (a == "--example-inputs")
      o.exampleInputs = args.value(a);
    else if (a == "--balance")
      o.balance = args.value(a);
    else if (a == "--for")
      o.purpose = args.value(a);
    else if (a == "--refine")
      o.refineRounds = int(args.number(a));
    else if (a == "--optimizer")
      o.optimizer = args.value(a);
    else if (a == "--loss")
      o.loss = args.value(a);
    else if (a == "--recompute")
      o.recompute = args.value(a);
    else if (a == "--tie")
      o.ties.push_back(args.value(a));
    else if (a == "--dot")
      o.dotFile = args.value(a);
    else if (a == "--simulate")
      o.simulate = args.value(a);
    else if (a == "--link-gbps")
      o.linkGbps = args.number(a);
    else if (a == "--max-stage-mb")
      o.maxStageMb = args.number(a);
    else if (a == "--print-ir")
      o.printIR = true;
    else if (a == "--print-plan")
      o.printPlan = true;
    else if (a == "--print-after-all")
      o.printAfterAll = true;
    else if (a == "--time-passes")
      o.timePasses = true;
    else if (a == "--force" || a == "-f")
      o.force = true;
    else if (llvm::StringRef(a).startswith("-"))
      unknownOption(a);
    else if (o.model.empty())
      o.model = a;
    else
      throw CompileError("more than one model given ('" + o.model + "', '" + a + "')");
  }
  if (o.model.empty())
    throw CompileError("no model given", "usage: ppc MODEL.pt -o DIR --split PATH:begin");
  if (o.outDir.empty() && !o.printIR && !o.printPlan && o.simulate.empty() && o.dotFile.empty())
    throw CompileError("nothing to do: give -o DIR, --print-ir, --print-plan or --simulate",
                       "e.g. ppc model.pt --split layers.1:begin -o stages/");
  return compileModel(o, llvm::outs(), llvm::errs());
}

int runOpt(Args &args) {
  OptOptions o;
  while (!args.empty()) {
    std::string a = args.next();
    if (llvm::StringRef(a).startswith("--passes="))
      o.passes = a.substr(9);
    else if (a == "--passes")
      o.passes = args.value(a);
    else if (a == "--split")
      o.splitSpecs.push_back(args.value(a));
    else if (a == "--buffer")
      o.buffers.push_back(args.value(a));
    else if (a == "--tie")
      o.ties.push_back(args.value(a));
    else if (a == "--print-parameters")
      o.printParameters = true;
    else if (a == "--print-after-all")
      o.printAfterAll = true;
    else if (a == "--time-passes")
      o.timePasses = true;
    else if (a != "-" && llvm::StringRef(a).startswith("-"))
      unknownOption(a);
    else if (o.irFile.empty())
      o.irFile = a;
    else
      throw CompileError("more than one IR file given");
  }
  if (o.irFile.empty())
    throw CompileError("usage: ppc opt IR.txt --passes=P1,P2", "see ppc --help");
  return optIR(o, llvm::outs(), llvm::errs());
}

int run(Args &args) {
  if (args.empty())
    throw CompileError("no model given", "usage: ppc MODEL.pt -o DIR --split PATH:begin");
  Args peek = args;
  std::string first = peek.next();
  if (first == "-h" || first == "--help") {
    llvm::outs() << kUsage;
    return 0;
  }
  if (first == "verify") {
    args.next();
    std::string io, tol = "1e-5";
    auto pos = positionals(args, 2, "ppc verify MODEL.pt DIR --inputs IO.pt",
                           {{"--inputs", &io}, {"--tolerance", &tol}});
    if (io.empty())
      throw CompileError("ppc verify needs --inputs IO.pt");
    return verifyStages(pos[0], pos[1], io, std::stod(tol), llvm::outs());
  }
  if (first == "inspect") {
    args.next();
    std::string dot;
    auto pos = positionals(args, 1, "ppc inspect DIR [--dot FILE]", {{"--dot", &dot}});
    return inspectStages(pos[0], dot, llvm::outs());
  }
  if (first == "opt") {
    args.next();
    return runOpt(args);
  }
  if (first == "merge") {
    args.next();
    std::string out;
    auto pos = positionals(args, 2, "ppc merge MODEL.pt DIR -o OUT.pt", {{"-o", &out}});
    if (out.empty())
      throw CompileError("ppc merge needs -o OUT.pt");
    return mergeStages(pos[0], pos[1], out, llvm::outs());
  }
  return runCompile(args);
}

} // namespace

int main(int argc, char **argv) {
  // Stages are timed (refinement) with the host memory pprun runs them with.
  ppc::retainFreedHostMemory();
  ppc::installMemoryCounter(); // before the first tensor: refinement measures activations
  Args args(argc, argv);
  try {
    return run(args);
  } catch (const CompileError &e) {
    llvm::errs() << "ppc: error: " << e.what() << "\n";
    if (!e.hint.empty())
      llvm::errs() << "ppc: hint: " << e.hint << "\n";
  } catch (const InternalError &e) {
    llvm::errs() << "ppc: internal error: " << e.what() << "\n";
  } catch (const std::exception &e) {
    llvm::errs() << "ppc: error: " << errorSummary(e) << "\n";
  }
  return 1;
}
