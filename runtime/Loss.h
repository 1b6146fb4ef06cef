//===- runtime/Loss.h - The training loss on model output 0 -----*- C++ -*-===//
//
// The loss pprun trains with, applied to the first tensor of the model's
// first output: cross_entropy (over the last dimension, every other one
// flattened into the batch), mse, or a TorchScript module of the user's.
// ppc's stage timing for training plans runs the same function on the stage
// that holds that output, so the plan balances the step pprun runs.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_LOSS_H
#define PPC_RUNTIME_LOSS_H

#include <torch/script.h>

#include <optional>
#include <string>

namespace ppc::rt {

struct LossSpec {
  std::string kind = "cross_entropy"; // cross_entropy | mse | a TorchScript file
  std::optional<torch::jit::Module> module;
};

/// cross_entropy, mse, or a TorchScript file `forward(output, target) -> Tensor`.
LossSpec makeLoss(const std::string &spec);

/// The loss of `out` against `target` (on out's device already).
at::Tensor computeLoss(const LossSpec &loss, const at::Tensor &out, const at::Tensor &target);

/// A target of the shape and type `loss` expects for `out`, for timing: the
/// cost of a loss does not depend on the target's values. A TorchScript loss
/// gets zeros shaped like `out`.
at::Tensor placeholderTarget(const LossSpec &loss, const at::Tensor &out);

} // namespace ppc::rt

#endif
