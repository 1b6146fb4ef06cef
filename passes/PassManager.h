//===- passes/PassManager.h - The compiler's pass pipeline ------*- C++ -*-===//
//
// An ordered list of named passes over the IR, so that the whole compiler's
// order reads in one place (buildPartitionPipeline). Each pass returns how
// many things it changed; the manager times every pass and, with
// printAfterAll, prints the IR after each one.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_PASSMANAGER_H
#define PPC_PASSES_PASSMANAGER_H

#include "ir/Graph.h"

#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <string>
#include <vector>

namespace ppc {

class PassManager {
public:
  using PassFn = std::function<unsigned(Graph &)>;
  struct Timing {
    std::string name;
    double ms = 0;
    unsigned changed = 0;
  };

  void add(std::string name, PassFn fn);
  /// Runs every pass in order; CompileErrors propagate to the caller.
  void run(Graph &g);

  bool printAfterAll = false;
  llvm::raw_ostream *printStream = &llvm::errs();
  const std::vector<Timing> &timings() const { return passTimings; }
  std::vector<std::string> names() const;

private:
  std::vector<std::pair<std::string, PassFn>> passes;
  std::vector<Timing> passTimings;
};

/// The partitioning pipeline, in order: place-splits, mutation-safety,
/// cross-stage-values, assign-parameters. `g.splits` must be set.
void buildPartitionPipeline(PassManager &pm);

} // namespace ppc

#endif
