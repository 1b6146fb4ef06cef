//===- runtime/Executor.h - Running one rank's actions ----------*- C++ -*-===//
//
// Holds the stages of one rank and runs any valid action list on them: F
// receives each stage input from its producer (or the model inputs), runs
// the stage and sends each output straight to every consumer stage; B runs
// autograd from the received output gradients (and the loss on the stage
// that returns model output 0) and sends input gradients back to each
// producer, which sums what its consumers return; I and W split B into
// input-gradient and weight-gradient passes. Gradients accumulate over
// microbatches; the caller steps the optimizer. A stage whose spec says
// `recompute` runs its training forward without grad, keeps only its inputs,
// and runs the forward again with grad at the start of its B (or I).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_EXECUTOR_H
#define PPC_RUNTIME_EXECUTOR_H

#include "runtime/Device.h"
#include "runtime/Loss.h"
#include "runtime/Manifest.h"
#include "runtime/Recompute.h"
#include "runtime/Transport.h"
#include "runtime/schedule/Schedule.h"

#include <torch/script.h>

#include <functional>
#include <map>
#include <mutex>
#include <optional>

namespace ppc::rt {

struct ActionTiming {
  double startMs = 0;
  double endMs = 0;
  double computeMs = 0; // inside the stage module or autograd, the rest is the runtime's
};

/// A wait for a value from another rank, for the trace.
struct TransferSpan {
  std::string what;
  double startMs = 0;
  double endMs = 0;
};

/// One microbatch's data as every rank sees it.
struct StepData {
  std::vector<std::vector<c10::IValue>> inputs; // [microbatch][model input]
  std::vector<at::Tensor> targets;              // [microbatch], training only
  std::vector<double> shares;                   // rows of each microbatch / batch
};

struct WeightFrontier; // runtime/SplitBackward.h

class Executor {
public:
  Executor(const Manifest &manifest, Transport &transport, bool training, LossSpec loss,
           const Placement &placement);

  /// Runs `actions` for step `step`; timings are relative to `stepStart`,
  /// one per action in list order. With `fillWaits`, when the next action's
  /// value from another rank has not arrived, the rank runs the first W still
  /// to come if its I has run (W's keep their order among themselves, so
  /// every gradient sums in the same order; memory is freed sooner, never
  /// later) instead of waiting idle.
  void run(const std::vector<sched::Action> &actions, const StepData &data, int step,
           std::chrono::steady_clock::time_point stepStart);

  /// The stages this rank holds, by index.
  std::map<int, torch::jit::Module> &stages() { return modules; }
  std::vector<at::Tensor> parameters();

  /// Model outputs produced here this step: (value, microbatch) -> value.
  std::map<std::pair<std::string, int>, c10::IValue> outputs;
  /// The step's loss so far (summed over microbatches; waits for the device).
  double lossSum() const { return lossTotal.defined() ? lossTotal.item<double>() : 0.0; }
  bool computesLoss = false;
  bool fillWaits = true;
  /// Training: keep the flags stagesWithNonFiniteOutputs reads (pprun,
  /// unless --allow-nonfinite; the Python API reads none).
  bool watchNonFinite = false;
  /// The stages here whose forward outputs (or loss) held a NaN or an
  /// infinity this step, lowest first. Waits for the device; the flags it
  /// reads were kept there without a sync per forward.
  std::vector<int> stagesWithNonFiniteOutputs() const;
  /// Called with (stage, step) once a stage's last backward action of the
  /// step (B, or W when split) has run: its parameters' gradients are final.
  std::function<void(int, int)> onGradientsFinal;
  std::vector<ActionTiming> timings;
  std::vector<TransferSpan> transfers;

private:
  /// What a recomputing stage keeps of a forward until its backward.
  struct Kept {
    std::vector<c10::IValue> inputs; // detached
    RngState rng;
    at::Tensor target; // on the loss stage
    double share = 0;
  };
  struct Saved {
    std::optional<Kept> kept;                         // until the forward is run again
    std::vector<std::vector<at::Tensor>> inputLeaves; // per stage input
    std::vector<c10::IValue> outputs;
    at::Tensor loss;
    std::vector<at::Tensor> roots, rootGrads; // kept from I for W
    std::shared_ptr<WeightFrontier> frontier; // what I leaves for W
    bool inputGradDone = false;
  };

  int rankOf(int stage) const { return rankOfStage(stage, transport.worldSize()); }
  void forward(int stage, int mb, const StepData &data);
  std::vector<c10::IValue> stageInputs(int stage, int mb, const StepData &data);
  std::vector<c10::IValue> runStage(int stage, std::vector<c10::IValue> args, Saved &saved,
                                    bool withGrad);
  bool isLossOutput(int stage, size_t output) const;
  void recompute(int stage, Saved &saved);
  std::unique_lock<std::mutex> rngLock(int stage);
  void gatherRoots(int stage, int mb, Saved &saved);
  void sendInputGrads(int stage, int mb, Saved &saved, const std::vector<at::Tensor> &grads);
  void backward(int stage, int mb);
  void inputGrad(int stage, int mb);
  void weightGrad(int stage, int mb);
  void runAction(const sched::Action &a, const StepData &data, ActionTiming &timing);
  bool inputsArrived(const sched::Action &a);
  std::optional<size_t> readyWeightGrad(const std::vector<sched::Action> &actions, size_t next,
                                        const std::vector<bool> &ran);
  std::vector<at::Tensor> gradParameters(int stage);
  at::Tensor lossOf(const c10::IValue &output, const at::Tensor &target, double share);
  c10::IValue receive(const std::string &key, int src);
  void send(const std::string &key, int dst, const c10::IValue &value);
  double sinceStart() const;
  /// Runs `work`, adding its duration to the current action's compute time.
  template <typename Fn> auto timedCompute(Fn &&work) -> decltype(work());

  const Manifest &manifest;
  Transport &transport;
  bool training;
  LossSpec loss;
  const Placement &placement;
  at::Tensor lossTotal; // kept on the device: no sync per microbatch
  /// Training: per stage, whether a forward output of this step was not
  /// finite (a bool tensor on the device).
  std::map<int, at::Tensor> nonFiniteOutputs;
  void noteNonFinite(int stage, const c10::IValue &value);
  std::map<int, torch::jit::Module> modules;
  std::map<std::pair<int, int>, Saved> saved;
  std::map<std::string, size_t> inputIndex;
  /// Stages whose forwards hold the process's RNG lock (see rngLock).
  std::map<int, bool> locksRng;
  /// Per recomputing stage, the buffers its forward writes in place.
  std::map<int, BufferWrites> bufferWrites;
  std::string stepPrefix;
  std::chrono::steady_clock::time_point start;
  double actionComputeMs = 0;
};

template <typename Fn> auto Executor::timedCompute(Fn &&work) -> decltype(work()) {
  auto begin = std::chrono::steady_clock::now();
  struct AddElapsed {
    double &total;
    std::chrono::steady_clock::time_point begin;
    ~AddElapsed() {
      total += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - begin)
                   .count();
    }
  } add{actionComputeMs, begin};
  return work();
}

/// Keys of the messages between stages.
std::string activationKey(const std::string &value, int mb, int consumer);
std::string gradientKey(const std::string &value, int mb, int consumer);

} // namespace ppc::rt

#endif
