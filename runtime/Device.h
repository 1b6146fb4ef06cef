//===- runtime/Device.h - Where a rank's stages run -------------*- C++ -*-===//
//
// A rank runs its stages on the CPU or on one CUDA device. On CUDA each rank
// thread computes on a stream of its own (so stages that share one GPU under
// the threads transport overlap), microbatch inputs are copied in from pinned
// host memory without blocking, and values handed between ranks are ordered
// against the streams that made and use them. Everything here goes through
// LibTorch's device-generic API (c10::Stream, VirtualGuardImpl), so it builds
// the same against a CPU-only LibTorch and fails at run time with a clear
// message when no GPU is there.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_DEVICE_H
#define PPC_RUNTIME_DEVICE_H

#include "runtime/Transport.h"

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <memory>
#include <optional>
#include <string>

namespace ppc::rt {

/// The device `spec` ("cpu", "cuda", "cuda:N") names for a rank; plain "cuda"
/// means the rank's local GPU, `localRank`. Throws a clear error when CUDA
/// is asked for and none is visible.
c10::Device parseDevice(const std::string &spec, int localRank);

class Placement {
public:
  explicit Placement(c10::Device device) : device(device) {}

  bool isCuda() const { return device.is_cuda(); }
  /// Makes `device` current on this thread and gives it a stream of its own.
  void bindThread();
  /// Copies tensors in (non-blocking from pinned memory).
  c10::IValue toDevice(const c10::IValue &v) const;
  /// Copies tensors to host memory (blocking).
  c10::IValue toHost(const c10::IValue &v) const;
  /// Copies tensors to pinned host memory, so later copies in do not block.
  c10::IValue pinned(const c10::IValue &v) const;
  /// Waits until this thread's stream has finished the work queued so far.
  void synchronize() const;
  /// Marks the value's CUDA tensors as used by this thread's stream, so the
  /// caching allocator does not hand their memory out while it still runs.
  void adopt(const c10::IValue &v) const;
  /// "cpu" or "cuda:0 (NVIDIA H100 80GB HBM3)".
  std::string describe() const;

  const c10::Device device;

private:
  std::optional<c10::Stream> stream;
};

/// Wraps a transport for values that live on `placement`'s device: a value
/// passed by reference (threads) is sent once its producer's stream is done
/// and adopted by the consumer's stream; a value that crosses processes is
/// copied out to host memory and back into the receiver's device.
std::unique_ptr<Transport> placeTransport(std::unique_ptr<Transport> inner,
                                          const Placement &placement, bool byReference);

} // namespace ppc::rt

#endif
