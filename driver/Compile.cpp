//===- driver/Compile.cpp - `ppc MODEL.pt ...` ----------------------------===//
//
// The compile pipeline: load and lower the model, apply user ties and warn
// about likely broken ones, place splits, run the partitioning passes, print
// what was asked for, and emit the output directory. The output directory is
// checked before any work so that a refused run costs nothing.
//
//===----------------------------------------------------------------------===//
#include "driver/Driver.h"

#include "codegen/Codegen.h"
#include "frontend/Frontend.h"
#include "ir/Diagnostics.h"
#include "ir/Printer.h"
#include "passes/PassManager.h"
#include "passes/PlaceSplits.h"

#include "llvm/Support/Format.h"

using namespace ppc;

namespace {

void applyTies(Model &model, const CompileOptions &opts, llvm::raw_ostream &err) {
  for (const std::string &tie : opts.ties) {
    auto [a, b] = llvm::StringRef(tie).split('=');
    if (a.empty() || b.empty())
      throw CompileError("bad --tie '" + tie + "'", "write --tie NAME_A=NAME_B");
    model.addTie(a.str(), b.str());
  }
  for (auto &[a, b] : model.equalUntiedParameters())
    err << "ppc: warning: parameters '" << a << "' and '" << b
        << "' are equal but not tied; if the export broke a tie, pass --tie " << a << "=" << b
        << "\n";
}

std::vector<SplitPoint> userSplits(const CompileOptions &opts) {
  std::vector<SplitPoint> splits;
  for (const std::string &spec : opts.splitSpecs)
    for (const SplitPoint &s : parseSplitSpec(spec))
      splits.push_back(s);
  return splits;
}

void printTimings(const PassManager &pm, llvm::raw_ostream &err) {
  err << "pass timings:\n";
  for (const auto &t : pm.timings())
    err << llvm::format("  %-20s %8.3f ms  %u changed\n", t.name.c_str(), t.ms, t.changed);
}

} // namespace

int ppc::compileModel(const CompileOptions &opts, llvm::raw_ostream &out, llvm::raw_ostream &err) {
  if (!opts.outDir.empty())
    checkOutputDirectory(opts.outDir, opts.force);
  std::vector<SplitPoint> splits = userSplits(opts); // bad words fail before loading
  std::unique_ptr<Model> model = Model::load(opts.model);
  Graph &g = model->graph();
  applyTies(*model, opts, err);
  if (!opts.exampleInputs.empty())
    model->annotateShapes(opts.exampleInputs);
  g.splits = splits;
  if (opts.stages > 0 && opts.stages != int(g.splits.size()) + 1)
    throw CompileError("--stages " + std::to_string(opts.stages) + " with " +
                           std::to_string(g.splits.size()) +
                           " split points: automatic partitioning is not available yet",
                       "give N-1 split points with --split");
  bool partition = !g.splits.empty();
  if (!partition && !opts.outDir.empty())
    throw CompileError("nothing to split: give --split PATH:begin|end or --stages N");
  if (partition) {
    PassManager pm;
    pm.printAfterAll = opts.printAfterAll;
    pm.printStream = &err;
    buildPartitionPipeline(pm);
    pm.run(g);
    if (opts.timePasses)
      printTimings(pm, err);
  }
  if (opts.printIR)
    printGraph(g, out);
  if (!opts.dotFile.empty())
    writeDot(graphToString(g), opts.dotFile);
  if (opts.outDir.empty())
    return 0;
  emitPipeline(*model, opts.outDir, {opts.force, {{"ir.txt", graphToString(g)}}});
  err << "ppc: wrote " << g.numStages << " stages to " << opts.outDir << "\n";
  return 0;
}
