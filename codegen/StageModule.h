//===- codegen/StageModule.h - In-memory stage modules ----------*- C++ -*-===//
//
// The LibTorch side of codegen, for code that runs stages in memory (region
// timing): builds stage `k` of a partitioned model, or any op range with an
// explicit interface, as a torch::jit::Module.
// The module shares parameter tensors with the loaded model, which must
// outlive it.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_CODEGEN_STAGEMODULE_H
#define PPC_CODEGEN_STAGEMODULE_H

#include "frontend/Frontend.h"

#include <torch/script.h>

namespace ppc {

/// Ops [begin, end) in program order.
struct OpRange {
  unsigned begin = 0;
  unsigned end = 0;
};

/// Stage `stage` of the partitioned IR.
torch::jit::Module buildStageModule(Model &model, int stage);

/// The ops of `ops` as a stage-like module with interface `io`, whatever the
/// ops' stages are (region timing); `id` names the module.
torch::jit::Module buildRegionModule(Model &model, const OpRange &ops, const StageInterface &io,
                                     int id);

/// What ops `ops` read from outside the range (model inputs first, then in
/// program order) and what they produce for later ops or the model outputs.
StageInterface regionInterface(const Graph &g, const OpRange &ops);

} // namespace ppc

#endif
