//===- passes/PassManager.cpp - The compiler's pass pipeline --------------===//
//
// Runs passes in order with timing and optional verification; the passes
// runnable by name are listed in registeredPasses, and the partitioning tail
// of the pipeline in buildPartitionPipeline.
//
//===----------------------------------------------------------------------===//
#include "passes/PassManager.h"

#include "ir/Printer.h"
#include "passes/AssignParameters.h"
#include "passes/CostModel.h"
#include "passes/CrossStageValues.h"
#include "passes/FoldTupleUnpack.h"
#include "passes/HoistOutputTuples.h"
#include "passes/MutationSafety.h"
#include "passes/PlaceSplits.h"

#include "llvm/Support/Format.h"

#include <chrono>

using namespace ppc;

llvm::ArrayRef<RegisteredPass> ppc::registeredPasses() {
  static const RegisteredPass passes[] = {
      {"analytic-costs", "FLOPs, bytes and roofline time of every op",
       [](Graph &g) { return annotateAnalyticCosts(g).known; }},
      {"fold-tuple-unpack", "readers of an unpacked tuple read what was packed", foldTupleUnpack},
      {"hoist-output-tuples", "tuples that only feed model outputs, built after their elements",
       hoistOutputTuples},
      {"place-splits", "stage of every op from g.splits (the IR's `splits` line)",
       [](Graph &g) { return unsigned(placeSplits(g)); }},
      {"mutation-safety", "copies before in-place writes to values another stage holds",
       makeMutationSafe},
      {"cross-stage-values", "values that cross stages and each stage's interface",
       findCrossStageValues},
      {"assign-parameters", "parameters each stage reads; stages of tied groups", assignParameters},
  };
  return passes;
}

void PassManager::add(std::string name, PassFn fn) {
  passes.emplace_back(std::move(name), std::move(fn));
}

bool PassManager::addRegistered(llvm::StringRef name) {
  for (const RegisteredPass &p : registeredPasses())
    if (name == p.name) {
      add(p.name, p.run);
      return true;
    }
  return false;
}

std::vector<std::string> PassManager::names() const {
  std::vector<std::string> out;
  for (const auto &p : passes)
    out.push_back(p.first);
  return out;
}

void PassManager::timeStep(const std::string &name, const std::function<void()> &step) {
  auto start = std::chrono::steady_clock::now();
  step();
  std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start;
  passTimings.push_back({name, ms.count(), 0});
}

void PassManager::run(Graph &g) {
  for (auto &pass : passes) {
    const std::string &name = pass.first;
    unsigned changed = 0;
    timeStep(name, [&] { changed = pass.second(g); });
    passTimings.back().changed = changed;
    if (printAfterAll) {
      *printStream << "; *** IR after " << name << " (" << changed << " changed) ***\n";
      printGraph(g, *printStream, {false, false, true});
    }
    if (!verifyEach)
      continue;
    std::string error = g.verify();
    if (!error.empty())
      throw InternalError("IR is invalid after pass " + name + ": " + error);
  }
}

void PassManager::printTimings(llvm::raw_ostream &os) const {
  double total = 0;
  os << "pass timings:\n";
  for (const Timing &t : passTimings) {
    os << llvm::format("  %-20s %8.3f ms\n", t.name.c_str(), t.ms);
    total += t.ms;
  }
  os << llvm::format("  %-20s %8.3f ms\n", static_cast<const char *>("total"), total);
}

void ppc::buildPartitionPipeline(PassManager &pm) {
  for (const char *name :
       {"place-splits", "mutation-safety", "cross-stage-values", "assign-parameters"})
    pm.addRegistered(name);
}
