//===- runtime/Training.h - Optimizer, ties, gradients on disk --*- C++ -*-===//
//
// The training side of a rank: its optimizer (SGD, Adam or AdamW with
// torch's defaults) over the parameters of its stages, the sum of tied
// parameters' gradients across their holder stages before each step (so that
// copies stay equal), the global gradient norm over every rank and its
// clipping, the first step's gradients gathered on rank 0 for --save-grads,
// and the stages and optimizer state saved and loaded for checkpoints.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_TRAINING_H
#define PPC_RUNTIME_TRAINING_H

#include "runtime/Executor.h"

#include <torch/optim.h>

#include <limits>
#include <set>

namespace ppc::rt {

/// An optimizer and its settings; unset (NaN) ones take torch's default for
/// that optimizer (weight decay 0, AdamW's 0.01; betas 0.9, 0.999; eps 1e-8;
/// momentum 0).
struct OptimizerOptions {
  std::string name = "sgd"; // sgd | adam | adamw
  double lr = 0.01;
  double weightDecay = std::numeric_limits<double>::quiet_NaN();
  double beta1 = std::numeric_limits<double>::quiet_NaN();
  double beta2 = std::numeric_limits<double>::quiet_NaN();
  double momentum = std::numeric_limits<double>::quiet_NaN();
  double eps = 1e-8;
};

std::unique_ptr<torch::optim::Optimizer> makeOptimizer(const OptimizerOptions &o,
                                                       std::vector<at::Tensor> params);

/// The L2 norm of the gradients of every parameter of every stage on every
/// rank, each tied group counted once (its first holder's copy, after
/// sumTiedGradients), as torch.nn.utils.clip_grad_norm_ computes it. Every
/// rank must call it with the same `key` and gets the same value.
/// `extraSquares` is added to this rank's sum of squares (see
/// runtime/NonFinite.h).
double globalGradNorm(std::map<int, torch::jit::Module> &stages, const Manifest &manifest,
                      Transport &transport, const std::string &key, double extraSquares = 0);

/// Scales every gradient of `stages` by min(1, maxNorm / (norm + 1e-6)), as
/// clip_grad_norm_ does; returns the factor.
double clipGradients(std::map<int, torch::jit::Module> &stages, double norm, double maxNorm);

class Trainer {
public:
  Trainer(Executor &executor, const Manifest &manifest, Transport &transport,
          const OptimizerOptions &options);
  Trainer(Executor &executor, const Manifest &manifest, Transport &transport,
          const std::string &optimizer, double lr);
  void zeroGrad();
  /// Sends `stage`'s share of each tied group it holds but does not lead to
  /// the group's leader now, while the schedule goes on; for
  /// Executor::onGradientsFinal. Steps below 0 (warm-up) send nothing.
  void tiedGradientsFinal(int stage, int step);
  void sumTiedGradients(int step);
  /// The global gradient norm of this step (see globalGradNorm).
  double gradNorm(int step, double extraSquares = 0);
  void clip(double norm, double maxNorm);
  /// Sets the learning rate of every parameter group for the next step.
  void setLearningRate(double lr);
  void step();
  /// The optimizer's state (torch::optim's archive format).
  void saveOptimizer(const std::string &path);
  void loadOptimizer(const std::string &path, c10::Device device);
  /// Saves this rank's stages into `dir` as stage files (on the host).
  void saveStages(const std::string &dir);
  /// Saves this rank's stages (and, on rank 0, the manifest) into `dir`;
  /// not atomic (runtime/Checkpoint.h writes whole checkpoints).
  void checkpoint(const std::string &dir, const std::string &sourceDir);
  /// Rank 0 writes {qualified name: grad} of every stage.
  void saveGradients(const std::string &path);

private:
  /// The gradient sum of this stage's parameters named in `group`.
  at::Tensor groupGrad(int stage, const TiedGroup &group);
  void setGroupGrad(int stage, const TiedGroup &group, const at::Tensor &grad);
  /// Sends `stage`'s share of tied group `g` for `step` to the group's leader.
  void sendTiedShare(int step, size_t g, int stage);

  /// Stages whose tied shares tiedGradientsFinal sent this step.
  std::set<int> sharesSent;

  Executor &executor;
  const Manifest &manifest;
  Transport &transport;
  std::unique_ptr<torch::optim::Optimizer> optimizer;
};

} // namespace ppc::rt

#endif
