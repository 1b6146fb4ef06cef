//===- passes/PassManager.cpp - The compiler's pass pipeline --------------===//
//
// Runs passes in order with timing; the pipeline itself is listed in
// buildPartitionPipeline, the one place that fixes the compiler's order.
//
//===----------------------------------------------------------------------===//
#include "passes/PassManager.h"

#include "ir/Printer.h"
#include "passes/AssignParameters.h"
#include "passes/CrossStageValues.h"
#include "passes/MutationSafety.h"
#include "passes/PlaceSplits.h"

#include <chrono>

using namespace ppc;

void PassManager::add(std::string name, PassFn fn) {
  passes.emplace_back(std::move(name), std::move(fn));
}

std::vector<std::string> PassManager::names() const {
  std::vector<std::string> out;
  for (const auto &p : passes)
    out.push_back(p.first);
  return out;
}

void PassManager::run(Graph &g) {
  for (auto &[name, fn] : passes) {
    auto start = std::chrono::steady_clock::now();
    unsigned changed = fn(g);
    std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start;
    passTimings.push_back({name, ms.count(), changed});
    if (printAfterAll) {
      *printStream << "; *** IR after " << name << " (" << changed << " changed) ***\n";
      printGraph(g, *printStream, {false, false, true});
    }
  }
}

void ppc::buildPartitionPipeline(PassManager &pm) {
  pm.add("place-splits", [](Graph &g) { return unsigned(placeSplits(g)); });
  pm.add("mutation-safety", makeMutationSafe);
  pm.add("cross-stage-values", findCrossStageValues);
  pm.add("assign-parameters", assignParameters);
}
