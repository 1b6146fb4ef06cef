//===- runtime/Session.h - A pipeline driven step by step -------*- C++ -*-===//
//
// The runtime behind the Python API (python/ppc): a compiled directory held
// open across calls, so that the caller's own loop drives it one step at a
// time and its own optimizer updates the parameters. A session owns this
// process's ranks: one persistent thread per rank over the threads
// transport, or, under torchrun (a process rank), one thread for this
// process's rank over Gloo. Each call runs the same task on every local
// rank's thread and returns when all are done; a failure on any rank aborts
// the others' waits and is rethrown with its one-line message, after which
// the session refuses further work. step() runs one training schedule step
// (gradients accumulate into the parameters' .grad; tied copies get their
// summed gradient), forward() runs inference under no-grad.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_SESSION_H
#define PPC_RUNTIME_SESSION_H

#include "runtime/Manifest.h"

#include <ATen/core/ivalue.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ppc::rt {

struct SessionOptions {
  std::string dir;
  int microbatches = 1;
  std::string schedule = "1f1b"; // a built-in name or a file of actions
  std::string loss = "cross_entropy";
  std::string device = "cpu";
  double timeoutSec = 300;
  int64_t seed = -1; // -1: LibTorch's generators as they are
  // A process rank (torchrun): worldSize > 0. Otherwise one thread per stage.
  int rank = 0;
  int worldSize = 0;
  int localRank = 0;
  std::string masterAddr = "127.0.0.1";
  int masterPort = 0;
};

struct SessionState;
struct SessionRank;

/// A parameter of one of this process's stages.
struct StageParameter {
  int stage = 0;
  std::string name;
  at::Tensor value;
  /// False for every copy of a tied group but one, so that a norm over the
  /// pipeline counts each group once.
  bool counted = true;
};

class Session {
public:
  explicit Session(const SessionOptions &options);
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  /// One training step over the whole batch; returns its mean loss (on
  /// every process rank). Gradients accumulate into the parameters.
  double step(const std::vector<c10::IValue> &inputs, const at::Tensor &targets);
  /// The model outputs (a tuple in manifest order) under no-grad.
  c10::IValue forward(const std::vector<c10::IValue> &inputs);

  /// The parameters of this process's stages, in stage order.
  std::vector<StageParameter> parameters();
  /// Makes `value` the tensor that `stage` reads as parameter `name`.
  void setParameter(int stage, const std::string &name, const at::Tensor &value);
  /// The sum (or with `max` the maximum) of `value` over the process ranks.
  at::Tensor reduce(const at::Tensor &value, bool max);
  /// Writes this process's stages, and on rank 0 pipeline.json and ir.txt,
  /// into `dir`; returns when every rank has written.
  void save(const std::string &dir);

  const Manifest &manifest() const;
  int rank() const { return opts.worldSize > 0 ? opts.rank : 0; }
  int worldSize() const;
  bool isProcessRank() const { return opts.worldSize > 0; }

private:
  /// Runs `task` on every local rank's thread; rethrows the first failure.
  void onEveryRank(const std::function<void(SessionRank &)> &task);
  /// The local rank that holds `stage`; throws std::invalid_argument if none.
  SessionRank &holderOf(int stage);

  SessionOptions opts;
  std::unique_ptr<SessionState> state;
};

} // namespace ppc::rt

#endif
