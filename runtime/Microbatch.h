//===- runtime/Microbatch.h - Splitting and joining batches -----*- C++ -*-===//
//
// Inputs whose dim 0 is the batch size are cut into M chunks with
// tensor_split (sizes differ by at most one); other inputs go whole to every
// microbatch. Outputs are joined along dim 0, leaf by leaf through tuples.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_MICROBATCH_H
#define PPC_RUNTIME_MICROBATCH_H

#include <ATen/core/ivalue.h>

#include <functional>
#include <string>
#include <vector>

namespace ppc::rt {

/// Dim 0 of the first tensor input.
int64_t batchSize(const std::vector<c10::IValue> &inputs);

/// split[m] holds microbatch m's inputs.
std::vector<std::vector<c10::IValue>> splitMicrobatches(const std::vector<c10::IValue> &inputs,
                                                        int64_t batch, int microbatches);

/// Joins per-microbatch values of one output.
c10::IValue joinMicrobatches(const std::vector<c10::IValue> &parts);

/// Tensors inside a value, depth first (tuples and lists).
std::vector<at::Tensor> tensorLeaves(const c10::IValue &v);

/// The value with every floating-point tensor detached and made a leaf that
/// requires grad, for a stage input during training; `leaves` gets every
/// tensor leaf, aligned with tensorLeaves().
c10::IValue asGradLeaves(const c10::IValue &v, std::vector<at::Tensor> &leaves);

/// The value with fn applied to every tensor inside (tuples, tensor lists).
c10::IValue mapTensors(const c10::IValue &v,
                       const std::function<at::Tensor(const at::Tensor &)> &fn);

/// The value with every tensor detached (what is sent to another stage).
c10::IValue detached(const c10::IValue &v);

} // namespace ppc::rt

#endif
