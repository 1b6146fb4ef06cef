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
#include "driver/TimeStages.h"
#include "frontend/Frontend.h"
#include "ir/Diagnostics.h"
#include "ir/Printer.h"
#include "passes/CostModel.h"
#include "passes/PartitionPlan.h"
#include "passes/Partitioner.h"
#include "passes/PassManager.h"
#include "passes/PlaceSplits.h"
#include "passes/RefinePartition.h"

#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <vector>

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

/// Bandwidth of a memory copy, which is what the threads transport pays. The
/// size of a large activation (8 MB), not of DRAM-sized buffers whose page
/// faults would cost more than the copies (64 MB took 100 ms of a compile).
double measureLoopbackGBps() {
  std::vector<char> from(8 << 20, 1), to(8 << 20, 0);
  double best = 0;
  for (int i = 0; i < 5; ++i) {
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

/// `--balance`, decided before any work: without shapes only parameters can be balanced.
Balance chooseBalance(const CompileOptions &opts, bool haveShapes, llvm::raw_ostream &err) {
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
  return opts.balance == "flops" ? Balance::Flops : Balance::Time;
}

/// The planner's words, checked before loading: --split alone reads them too.
void checkPlanWords(const CompileOptions &opts) {
  if (opts.purpose != "infer" && opts.purpose != "train")
    throw CompileError("--for must be infer or train, not '" + opts.purpose + "'");
  if (opts.optimizer != "sgd" && opts.optimizer != "adam")
    throw CompileError("--optimizer must be sgd or adam, not '" + opts.optimizer + "'");
  if (opts.recompute != "none" && opts.recompute != "all" && opts.recompute != "auto")
    throw CompileError("--recompute must be none, all or auto, not '" + opts.recompute + "'");
  if (opts.loss != "cross_entropy" && opts.loss != "mse" && !std::filesystem::exists(opts.loss))
    throw CompileError("--loss '" + opts.loss +
                           "' is neither cross_entropy, mse nor a TorchScript file",
                       "pass the --loss that pprun will train with");
}

/// What the partitioner is asked for, from the options.
PartitionOptions partitionOptions(const CompileOptions &opts, Balance balance) {
  PartitionOptions po;
  po.stages = opts.stages;
  po.linkGBps = linkBandwidth(opts);
  po.maxStageBytes = opts.maxStageMb * 1e6;
  // Activations in flight follow the schedule being simulated (default 1F1B).
  SimulateSpec spec = parseSimulateSpec(opts.simulate);
  po.inFlight = inFlightOfSchedule(spec);
  po.microbatches = spec.microbatches;
  po.balance = balance;
  po.training = opts.purpose == "train";
  if (po.training) // gradients, and Adam's two moments
    po.stateBytesPerParamByte = opts.optimizer == "adam" ? 3 : 1;
  po.recompute = opts.recompute == "all"    ? Recompute::All
                 : opts.recompute == "auto" ? Recompute::Auto
                                            : Recompute::None;
  return po;
}

/// The plan --for infer would choose: refined on forward times alone.
std::vector<SplitPoint> forwardBalancedPlan(Model &model, Graph &g, PartitionOptions po,
                                            const RefineOptions &refine) {
  po.training = false;
  StageTimingOptions timing;
  return refinePartition(g, po, refine,
                         [&](const std::vector<unsigned> &positions) {
                           return timeStages(model, positions, timing);
                         })
      .splits;
}

/// The partition for --stages: the partitioner's choice on the op costs, then,
/// for measured costs, refined against its stages as they run
/// (passes/RefinePartition.h). A training plan also measures the
/// forward-balanced plan as a candidate, so that balancing the backward never
/// gives a step measured slower than not balancing it (unless a memory cap
/// rules the forward plan out). A stage that cannot be timed leaves the
/// partitioner's choice, with a warning.
std::vector<SplitPoint> planPartition(Model &model, Graph &g, const PartitionOptions &po,
                                      const CompileOptions &opts, llvm::raw_ostream &out,
                                      llvm::raw_ostream &err) {
  std::vector<SplitPoint> chosen = choosePartition(g, po);
  std::string rounds;
  if (po.balance == Balance::Time && opts.refineRounds > 0) {
    StageTimingOptions timing;
    timing.training = po.training;
    timing.loss = opts.loss;
    // Zero-bubble ranks run split backwards, whose I and W the plan shows.
    timing.splitBackward = parseSimulateSpec(opts.simulate).memorySchedule() == "zero-bubble";
    RefineOptions refine;
    refine.maxRounds = opts.refineRounds;
    try {
      if (po.training && po.maxStageBytes <= 0)
        refine.seeds.push_back(forwardBalancedPlan(model, g, po, refine));
      RefineResult r = refinePartition(g, po, refine, [&](const std::vector<unsigned> &positions) {
        return timeStages(model, positions, timing);
      });
      chosen = r.splits;
      rounds = formatRefinement(r, po.training);
    } catch (const CompileError &e) {
      err << "ppc: warning: " << e.what() << "; keeping the plan of the region costs\n";
    }
  }
  if (opts.printPlan)
    out << formatPlan(g, splitPositions(g, chosen), po) << rounds;
  return chosen;
}

/// The whole compiler in order: every step on the loaded model is a named
/// pass, so --time-passes and --print-after-all see all of them.
void buildCompilePipeline(PassManager &pm, Model &model, const CompileOptions &opts,
                          const std::vector<SplitPoint> &splits, llvm::raw_ostream &out,
                          llvm::raw_ostream &err) {
  bool haveShapes = !opts.exampleInputs.empty();
  pm.add("apply-ties", [&](Graph &g) {
    applyTies(model, opts, err);
    return unsigned(g.ties.size());
  });
  pm.addRegistered("fold-tuple-unpack");
  pm.addRegistered("hoist-output-tuples");
  if (haveShapes)
    pm.add("annotate-shapes", [&](Graph &) {
      model.annotateShapes(opts.exampleInputs);
      return 0u;
    });
  pm.addRegistered("analytic-costs");
  pm.add("user-splits", [&](Graph &g) {
    g.splits = splits;
    return unsigned(splits.size());
  });
  if (opts.stages > int(splits.size()) + 1) {
    Balance balance = chooseBalance(opts, haveShapes, err);
    if (balance == Balance::Time)
      pm.add("measure-costs", [&](Graph &g) {
        std::vector<unsigned> boundaries;
        for (const Candidate &c : splitCandidates(g))
          boundaries.push_back(c.position);
        MeasureOptions measure;
        measure.backward = opts.purpose == "train";
        measureRegionCosts(model, boundaries, measure, err);
        return unsigned(boundaries.size());
      });
    pm.add("choose-splits", [&, balance](Graph &g) {
      PartitionOptions po = partitionOptions(opts, balance);
      po.fixedSplits = g.splits;
      g.splits = planPartition(model, g, po, opts, out, err);
      return unsigned(g.splits.size());
    });
  }
  if (splits.empty() && opts.stages <= 1)
    return;
  pm.add("plan-memory", [&](Graph &g) {
    // Which stages recompute and each stage's predicted peak, from the
    // partitioner's memory model; for user splits alone every stage
    // recomputes (all) or those over the cap (auto).
    PartitionOptions po = partitionOptions(opts, Balance::Time);
    g.recompute.clear();
    g.stageMemoryBytes.clear();
    for (const StageCost &c : partitionCosts(g, splitPositions(g, g.splits), po)) {
      g.recompute.push_back(c.recompute);
      g.stageMemoryBytes.push_back(c.memoryBytes);
    }
    return unsigned(llvm::count(g.recompute, true));
  });
  buildPartitionPipeline(pm);
}

} // namespace

int ppc::compileModel(const CompileOptions &opts, llvm::raw_ostream &out, llvm::raw_ostream &err) {
  if (!opts.outDir.empty())
    checkOutputDirectory(opts.outDir, opts.force);
  std::vector<SplitPoint> splits = userSplits(opts); // bad words fail before loading
  checkPlanWords(opts);
  if (opts.stages > 0 && opts.stages < int(splits.size()) + 1)
    throw CompileError("--stages " + std::to_string(opts.stages) + " but " +
                           std::to_string(splits.size()) + " split points were given",
                       "give at most N-1 split points with --stages N");
  bool partition = !splits.empty() || opts.stages > 1;
  if (!partition && !opts.outDir.empty())
    throw CompileError("nothing to split: give --split PATH:begin|end or --stages N");
  if (!partition && !opts.simulate.empty())
    throw CompileError("--simulate needs a partition", "add --split or --stages");
  // pipeline.json's digest of the source, hashed on another core while the
  // passes run on one (0.1-0.2 s for GPT-2's 45 MB, a fifth of a compile).
  std::future<std::string> sourceSha256 =
      std::async(std::launch::async, [path = opts.model] { return sha256File(path); });
  PassManager pm;
  pm.verifyEach = true; // linear in the IR's size: cheap next to any pass
  pm.printAfterAll = opts.printAfterAll;
  pm.printStream = &err;
  std::unique_ptr<Model> model;
  pm.timeStep("load", [&] { model = Model::load(opts.model); });
  Graph &g = model->graph();
  buildCompilePipeline(pm, *model, opts, splits, out, err);
  pm.run(g);
  if (opts.printIR)
    printGraph(g, out);
  if (!opts.simulate.empty())
    printSimulation(g, parseSimulateSpec(opts.simulate), partitionOptions(opts, Balance::Time),
                    out);
  if (!opts.dotFile.empty())
    writeDot(graphToString(g), opts.dotFile);
  if (!opts.outDir.empty()) {
    pm.timeStep("emit", [&] {
      emitPipeline(*model, opts.outDir,
                   {opts.force, sourceSha256.get(), {{"ir.txt", graphToString(g)}}});
    });
    err << "ppc: wrote " << g.numStages << " stages to " << opts.outDir << "\n";
  }
  if (opts.timePasses)
    pm.printTimings(err);
  return 0;
}
