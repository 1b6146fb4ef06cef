//===- runtime/Recompute.h - Re-running a stage's forward -------*- C++ -*-===//
//
// A stage marked `recompute` keeps only its inputs between a microbatch's
// forward (run without grad) and its backward, which first runs the forward
// again with grad. The second run must compute what the first did: the
// random-number generators are put back to their state before the first run
// (so dropout draws the same masks) and left as they were afterwards, and
// the buffers the forward writes in place (BatchNorm's running statistics)
// are restored after it, so the recomputation updates nothing twice.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_RECOMPUTE_H
#define PPC_RUNTIME_RECOMPUTE_H

#include <torch/script.h>

#include <functional>
#include <vector>

namespace ppc::rt {

/// The CPU generator's state, and the device's where it is a GPU.
struct RngState {
  at::Tensor cpu, device;
};

RngState captureRng(c10::Device device);
void restoreRng(const RngState &state, c10::Device device);

/// Whether the module's forward may draw random numbers (dropout in
/// training, rand, bernoulli...), in it or in any submodule's methods.
bool drawsRandomNumbers(const torch::jit::Module &module);

/// Learns which buffers a module's forward writes in place: those whose
/// version counter moves in any forward it observes (in-place ops), or whose
/// values change in the first (BatchNorm's kernel updates its running
/// statistics without bumping the counter).
class BufferWrites {
public:
  /// Runs `forward`, a forward of `module`, noting the buffers it writes.
  void observe(const torch::jit::Module &module, const std::function<void()> &forward);
  /// Indices into module.buffers().
  const std::vector<size_t> &written() const { return indices; }

private:
  void note(size_t index);
  bool comparedValues = false;
  std::vector<size_t> indices;
};

/// Runs `work` with the generators as in `state` (unless it is empty), then
/// puts them back as they were, and restores the buffers listed in `written` (indices into
/// buffers()) to their values before `work`.
void replay(const torch::jit::Module &module, const std::vector<size_t> &written,
            const RngState &state, c10::Device device, const std::function<void()> &work);

} // namespace ppc::rt

#endif
