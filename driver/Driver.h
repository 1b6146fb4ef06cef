//===- driver/Driver.h - What the ppc subcommands do ------------*- C++ -*-===//
//
// The logic behind `ppc` (compile), `ppc verify`, `ppc inspect` and
// `ppc merge` and `ppc opt`, kept out of tools/ so that the main only parses arguments and
// reports errors. Every function throws CompileError on bad input.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_DRIVER_DRIVER_H
#define PPC_DRIVER_DRIVER_H

#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace ppc {

struct CompileOptions {
  std::string model;
  std::string outDir;                  // empty: write nothing
  std::vector<std::string> splitSpecs; // each "a:begin" or a comma list
  int stages = 0;                      // --stages N (0: from the splits)
  std::string exampleInputs;           // --example-inputs IO.pt
  std::string balance = "time";        // time | flops | params
  std::vector<std::string> ties;       // "A=B"
  std::string dotFile;
  std::string simulate;          // "1f1b:M=8", "all:M=8"
  double linkGbps = 0;           // 0: measured loopback
  double maxStageMb = 0;         // 0: no cap
  std::string purpose = "infer"; // --for infer|train: balance forward, or forward + backward
  int refineRounds = 4;          // --refine N: partitions measured at most (0: none)
  std::string optimizer = "sgd"; // --optimizer sgd|adam: the state --for train plans memory for
  /// --loss: what pprun will train with, timed on the stage of model output 0
  std::string loss = "cross_entropy";
  std::string recompute = "none"; // --recompute none|all|auto
  bool printIR = false;
  bool printAfterAll = false;
  bool printPlan = false;
  bool timePasses = false;
  bool force = false;
};

/// Compiles a model; returns the process exit code.
int compileModel(const CompileOptions &opts, llvm::raw_ostream &out, llvm::raw_ostream &err);

struct OptOptions {
  std::string irFile;                  // "-" for stdin
  std::string passes;                  // "place-splits,cross-stage-values"
  std::vector<std::string> splitSpecs; // added to the IR's own `splits`
  std::vector<std::string> buffers;    // `param` names that are buffers, not parameters
  std::vector<std::string> ties;       // "A=B"
  bool printParameters = false;        // each stage's parameters and the tied groups
  bool printAfterAll = false;
  bool timePasses = false;
};

/// Runs registered passes on IR text and prints the resulting IR; every pass
/// is followed by Graph::verify.
int optIR(const OptOptions &opts, llvm::raw_ostream &out, llvm::raw_ostream &err);

/// Chains the stages of `dir` in one process on the inputs of `ioFile` and
/// compares with the unpartitioned model; exit 0 only when every output is
/// within `tolerance` (relative; integers and non-tensors exact).
int verifyStages(const std::string &model, const std::string &dir, const std::string &ioFile,
                 double tolerance, llvm::raw_ostream &out);

/// Prints the stage table and the partitioned IR of a compiled directory.
int inspectStages(const std::string &dir, const std::string &dotFile, llvm::raw_ostream &out);

/// Copies the (trained) parameters of the stages in `dir` back into the whole
/// model and saves it as `outFile`.
int mergeStages(const std::string &model, const std::string &dir, const std::string &outFile,
                llvm::raw_ostream &out);

/// Writes a Graphviz picture of stages and cross-stage edges.
void writeDot(const std::string &irText, const std::string &file);

} // namespace ppc

#endif
