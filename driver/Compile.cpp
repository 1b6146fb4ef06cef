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
#include "driver/MeasureCosts.h"
#include "driver/SimulatePlan.h"
#include "frontend/Frontend.h"
#include "ir/Diagnostics.h"
#include "ir/Printer.h"
#include "passes/CostModel.h"
#include "passes/PartitionPlan.h"
#include "passes/Partitioner.h"
#include "passes/PassManager.h"
#include "passes/PlaceSplits.h"

#include <chrono>
#include <cstring>
#include <vector>

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

/// Bandwidth of a memory copy, which is what the threads transport pays.
double measureLoopbackGBps() {
  std::vector<char> from(64 << 20, 1), to(64 << 20);
  double best = 0;
  for (int i = 0; i < 3; ++i) {
    auto start = std::chrono::steady_clock::now();
    std::memcpy(to.data(), from.data(), from.size());
    std::chrono::duration<double> s = std::chrono::steady_clock::now() - start;
    best = std::max(best, from.size() / s.count() / 1e9);
  }
  return best;
}

/// --link-gbps, or the measured memory-copy bandwidth, once per compile: the
/// partitioner and the simulation use the same.
double linkBandwidth(const CompileOptions &opts) {
  static double measured = 0;
  if (opts.linkGbps > 0)
    return opts.linkGbps;
  if (measured == 0)
    measured = measureLoopbackGBps();
  return measured;
}

/// Wall time of the compiler's phases, for --time-passes.
class PhaseTimer {
public:
  void lap(const char *phase) {
    auto now = std::chrono::steady_clock::now();
    laps.push_back({phase, std::chrono::duration<double, std::milli>(now - last).count()});
    last = now;
  }
  void print(llvm::raw_ostream &err) const {
    err << "phase timings:\n";
    for (const auto &[phase, ms] : laps)
      err << llvm::format("  %-20s %8.3f ms\n", phase.c_str(), ms);
  }

private:
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  std::vector<std::pair<std::string, double>> laps;
};

Balance chooseBalance(Model &model, const CompileOptions &opts, bool haveShapes,
                      llvm::raw_ostream &err) {
  if (opts.balance != "time" && opts.balance != "flops" && opts.balance != "params")
    throw CompileError("--balance must be time, flops or params, not '" + opts.balance + "'");
  if (opts.balance == "params")
    return Balance::Params;
  if (!haveShapes) {
    err << "ppc: warning: no tensor shapes without --example-inputs; balancing parameter "
           "counts instead of "
        << opts.balance << "\n";
    return Balance::Params;
  }
  if (opts.balance == "flops")
    return Balance::Flops;
  std::vector<unsigned> boundaries;
  for (const Candidate &c : splitCandidates(model.graph()))
    boundaries.push_back(c.position);
  measureRegionCosts(model, boundaries);
  return Balance::Time;
}

/// Chooses the split points `--stages` asks for beyond the user's.
void partitionAutomatically(Model &model, const CompileOptions &opts, bool haveShapes,
                            PhaseTimer &timer, llvm::raw_ostream &out, llvm::raw_ostream &err) {
  Graph &g = model.graph();
  PartitionOptions po;
  po.stages = opts.stages;
  po.fixedSplits = g.splits;
  po.linkGBps = linkBandwidth(opts);
  po.maxStageBytes = opts.maxStageMb * 1e6;
  // Activations in flight follow the schedule being simulated (default 1F1B).
  SimulateSpec spec = parseSimulateSpec(opts.simulate);
  po.inFlight = inFlightFor(spec.memorySchedule(), spec.microbatches);
  po.balance = chooseBalance(model, opts, haveShapes, err);
  timer.lap("measure-costs");
  g.splits = choosePartition(g, po);
  timer.lap("choose-splits");
  if (opts.printPlan)
    out << formatPlan(g, splitPositions(g, g.splits), po);
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
  PhaseTimer timer;
  std::unique_ptr<Model> model = Model::load(opts.model);
  timer.lap("load");
  Graph &g = model->graph();
  applyTies(*model, opts, err);
  bool haveShapes = !opts.exampleInputs.empty();
  if (haveShapes)
    model->annotateShapes(opts.exampleInputs);
  annotateAnalyticCosts(g);
  g.splits = splits;
  if (opts.stages > 0 && opts.stages < int(g.splits.size()) + 1)
    throw CompileError("--stages " + std::to_string(opts.stages) + " but " +
                           std::to_string(g.splits.size()) + " split points were given",
                       "give at most N-1 split points with --stages N");
  timer.lap("shapes-and-costs");
  if (opts.stages > int(g.splits.size()) + 1)
    partitionAutomatically(*model, opts, haveShapes, timer, out, err);
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
  if (!opts.simulate.empty()) {
    if (!partition)
      throw CompileError("--simulate needs a partition", "add --split or --stages");
    printSimulation(g, parseSimulateSpec(opts.simulate), linkBandwidth(opts), out);
  }
  if (!opts.dotFile.empty())
    writeDot(graphToString(g), opts.dotFile);
  if (opts.outDir.empty())
    return 0;
  timer.lap("passes");
  emitPipeline(*model, opts.outDir, {opts.force, {{"ir.txt", graphToString(g)}}});
  timer.lap("emit");
  if (opts.timePasses)
    timer.print(err);
  err << "ppc: wrote " << g.numStages << " stages to " << opts.outDir << "\n";
  return 0;
}
