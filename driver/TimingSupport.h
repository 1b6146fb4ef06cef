//===- driver/TimingSupport.h - What region and stage timing share -*- C++ -*-===//
//
// The pieces that measure-costs (op regions) and refinement (whole stages)
// both need to run a module the same way many times: the op ranges to
// build, deep copies of their inputs, gradient leaves, the differentiable
// tensors of an output, the parameters made to require grad for a while, one
// intra-op thread, and the clock.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_DRIVER_TIMINGSUPPORT_H
#define PPC_DRIVER_TIMINGSUPPORT_H

#include "codegen/StageModule.h"

#include <ATen/Parallel.h>
#include <torch/script.h>

#include <chrono>
#include <unordered_map>
#include <vector>

namespace ppc {

using Clock = std::chrono::steady_clock;

inline double msSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

/// Copies of everything in a value that a region could change in place
/// (tensors, lists, dicts, objects, and tuples holding them), so that no
/// timed run sees what another changed; scalars and strings are immutable
/// and shared. One DeepCopy serves all inputs of a run, so inputs that are
/// the same object stay the same object. With `leaves`, each floating-point
/// tensor becomes a leaf that requires grad (collected there) and the copy
/// the region gets is a clone of it, so that a region writing its input in
/// place works, as a stage does after its mutation-safety copy.
class DeepCopy {
public:
  explicit DeepCopy(std::vector<at::Tensor> *leaves = nullptr) : leaves(leaves) {}
  c10::IValue operator()(const c10::IValue &v);

private:
  c10::IValue copyOf(const c10::IValue &v);
  at::Tensor tensor(const at::Tensor &t);

  std::vector<at::Tensor> *leaves;
  std::unordered_map<const void *, c10::IValue> memo; // by identity
};

/// Deep copies of `values` made by one DeepCopy (see there for `leaves`).
std::vector<c10::IValue> copyAll(const std::vector<c10::IValue> &values,
                                 std::vector<at::Tensor> *leaves = nullptr);

double median(std::vector<double> times);

/// The op ranges between consecutive cuts (0 and the op count added), without
/// empty ones: measure-costs' regions, or a partition's stages.
std::vector<OpRange> regions(const Graph &g, const std::vector<unsigned> &cuts);

/// The tensors of `v` that need a gradient, in tuples, lists and dicts too.
void differentiable(const c10::IValue &v, std::vector<at::Tensor> &out);

/// The region's floating-point parameters made to require grad while it
/// exists, then put back as they were and without .grad, so that nothing
/// of the timing leaks into the emitted stages (they share the tensors).
class ParameterGrads {
public:
  explicit ParameterGrads(torch::jit::Module &region) {
    for (at::Tensor p : region.parameters()) {
      if (!p.is_floating_point())
        continue;
      params.push_back(p);
      required.push_back(p.requires_grad());
      p.requires_grad_(true);
    }
  }
  ParameterGrads(const ParameterGrads &) = delete;
  ParameterGrads &operator=(const ParameterGrads &) = delete;
  ~ParameterGrads() {
    clear();
    for (size_t i = 0; i < params.size(); ++i)
      params[i].requires_grad_(required[i]);
  }
  const std::vector<at::Tensor> &tensors() const { return params; }
  /// Each timed backward writes .grad afresh instead of adding to it.
  void clear() {
    for (at::Tensor &p : params)
      p.mutable_grad() = at::Tensor();
  }

private:
  std::vector<at::Tensor> params;
  std::vector<bool> required;
};

/// Sets the intra-op thread count for its lifetime, so timing is not
/// disturbed by other cores and an exception cannot leave it changed.
class IntraOpThreads {
public:
  explicit IntraOpThreads(int n) : saved(at::get_num_threads()) { at::set_num_threads(n); }
  ~IntraOpThreads() { at::set_num_threads(saved); }

private:
  int saved;
};

} // namespace ppc

#endif
