//===- passes/PassManager.h - The compiler's pass pipeline ------*- C++ -*-===//
//
// An ordered list of named passes over the IR, so that the whole compiler's
// order reads in one place (driver/Compile.cpp builds it; the partitioning
// tail is buildPartitionPipeline). Each pass returns how many things it
// changed. The manager is the compiler's one timer: it times every pass, and
// the steps that are not passes over the IR (loading, emitting) through
// timeStep, into one table for --time-passes. With printAfterAll it prints
// the IR after each pass; with verifyEach it checks Graph::verify after each
// and throws InternalError naming the pass that broke it.
//
// Passes that need nothing but the IR are also registered by name
// (registeredPasses), so `ppc opt IR.txt --passes=a,b` can run any of them
// on IR text in tests.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_PASSMANAGER_H
#define PPC_PASSES_PASSMANAGER_H

#include "ir/Diagnostics.h"
#include "ir/Graph.h"

#include "llvm/ADT/ArrayRef.h"
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
  /// Adds the registered pass `name`; false if there is none.
  bool addRegistered(llvm::StringRef name);
  /// Runs every pass in order; CompileErrors propagate to the caller.
  void run(Graph &g);
  /// Runs `step` (something other than a pass over the IR) and times it in
  /// the same table as the passes.
  void timeStep(const std::string &name, const std::function<void()> &step);
  /// The --time-passes table.
  void printTimings(llvm::raw_ostream &os) const;

  bool printAfterAll = false;
  bool verifyEach = false;
  llvm::raw_ostream *printStream = &llvm::errs();
  const std::vector<Timing> &timings() const { return passTimings; }
  std::vector<std::string> names() const;

private:
  std::vector<std::pair<std::string, PassFn>> passes;
  std::vector<Timing> passTimings;
};

/// A pass that needs only the IR, runnable by name.
struct RegisteredPass {
  const char *name;
  const char *summary;
  PassManager::PassFn run;
};

/// Every pass runnable by name, in pipeline order.
llvm::ArrayRef<RegisteredPass> registeredPasses();

/// The partitioning pipeline, in order: place-splits, mutation-safety,
/// cross-stage-values, assign-parameters. `g.splits` must be set.
void buildPartitionPipeline(PassManager &pm);

} // namespace ppc

#endif
