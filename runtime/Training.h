//===- runtime/Training.h - Optimizer, ties, gradients on disk --*- C++ -*-===//
//
// The training side of a rank: its optimizer over the parameters of its
// stages, the sum of tied parameters' gradients across their holder stages
// before each step (so that copies stay equal), the first step's gradients
// gathered on rank 0 for --save-grads, and --checkpoint of updated stages.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_TRAINING_H
#define PPC_RUNTIME_TRAINING_H

#include "runtime/Executor.h"

#include <torch/optim.h>

namespace ppc::rt {

/// cross_entropy, mse, or a TorchScript file `forward(output, target) -> Tensor`.
LossSpec makeLoss(const std::string &spec);

class Trainer {
public:
  Trainer(Executor &executor, const Manifest &manifest, Transport &transport,
          const std::string &optimizer, double lr);
  void zeroGrad();
  void sumTiedGradients(int step);
  void step();
  /// Rank 0 writes {qualified name: grad} of every stage.
  void saveGradients(const std::string &path);
  /// Saves this rank's stages (and, on rank 0, the manifest) into `dir`.
  void checkpoint(const std::string &dir, const std::string &sourceDir);

private:
  /// The gradient sum of this stage's parameters named in `group`.
  at::Tensor groupGrad(int stage, const TiedGroup &group);
  void setGroupGrad(int stage, const TiedGroup &group, const at::Tensor &grad);

  Executor &executor;
  const Manifest &manifest;
  Transport &transport;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
};

} // namespace ppc::rt

#endif
