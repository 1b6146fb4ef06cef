//===- codegen/StageModule.h - In-memory stage modules ----------*- C++ -*-===//
//
// The LibTorch side of codegen, for code that runs stages in memory (region
// timing): builds stage `k` of a partitioned model as a torch::jit::Module.
// The module shares parameter tensors with the loaded model, which must
// outlive it.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_CODEGEN_STAGEMODULE_H
#define PPC_CODEGEN_STAGEMODULE_H

#include "frontend/Frontend.h"

#include <torch/script.h>

namespace ppc {

torch::jit::Module buildStageModule(Model &model, int stage);

} // namespace ppc

#endif
