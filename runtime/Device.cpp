//===- runtime/Device.cpp - Where a rank's stages run ---------------------===//
//
// See Device.h. Streams come from the CUDA stream pool through
// c10::impl::VirtualGuardImpl, which dispatches to whatever backend LibTorch
// registered for the device type; a CPU-only LibTorch has none, and
// parseDevice refuses CUDA before any of it runs. Only the device's name
// needs CUDA headers.
//
//===----------------------------------------------------------------------===//
#include "runtime/Device.h"

#include "runtime/Microbatch.h"

#include <c10/core/impl/VirtualGuardImpl.h>
#ifdef PPC_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif
#include <torch/cuda.h>
#include <torch/torch.h>

using namespace ppc::rt;

c10::Device ppc::rt::parseDevice(const std::string &spec, int localRank) {
  if (spec == "cpu")
    return c10::Device(c10::kCPU);
  if (spec != "cuda" && spec.rfind("cuda:", 0) != 0)
    throw std::runtime_error("--device must be cpu, cuda or cuda:N, not '" + spec + "'");
  if (!torch::cuda::is_available())
    throw std::runtime_error("--device " + spec +
                             ": no CUDA device is visible to LibTorch (no GPU, no driver, or a "
                             "CPU-only LibTorch); use --device cpu");
  int count = int(torch::cuda::device_count());
  int index = spec == "cuda" ? localRank : std::atoi(spec.c_str() + 5);
  if (index < 0 || index >= count)
    throw std::runtime_error("--device " + spec +
                             ": this rank needs cuda:" + std::to_string(index) + " but only " +
                             std::to_string(count) + " GPU(s) are visible");
  return c10::Device(c10::kCUDA, c10::DeviceIndex(index));
}

void Placement::bindThread() {
  if (!isCuda())
    return;
  c10::impl::VirtualGuardImpl impl(c10::kCUDA);
  impl.setDevice(device);
  stream = impl.getStreamFromGlobalPool(device);
  impl.exchangeStream(*stream);
}

c10::IValue Placement::toDevice(const c10::IValue &v) const {
  if (!isCuda())
    return v;
  return mapTensors(v, [&](const at::Tensor &t) {
    return t.defined() ? t.to(device, /*non_blocking=*/t.is_pinned()) : t;
  });
}

c10::IValue Placement::toHost(const c10::IValue &v) const {
  if (!isCuda())
    return v;
  return mapTensors(v, [](const at::Tensor &t) { return t.defined() ? t.cpu() : t; });
}

c10::IValue Placement::pinned(const c10::IValue &v) const {
  if (!isCuda())
    return v;
  return mapTensors(
      v, [](const at::Tensor &t) { return t.defined() && t.is_cpu() ? t.pin_memory() : t; });
}

void Placement::synchronize() const {
  if (stream)
    stream->synchronize();
}

void Placement::adopt(const c10::IValue &v) const {
  if (!stream)
    return;
  for (const at::Tensor &t : tensorLeaves(v))
    if (t.defined() && t.is_cuda())
      t.record_stream(*stream);
}

std::string Placement::describe() const {
  if (!isCuda())
    return "cpu";
#ifdef PPC_WITH_CUDA
  return device.str() + " (" + at::cuda::getDeviceProperties(device.index())->name + ")";
#else
  return device.str();
#endif
}

namespace {

class PlacedTransport : public Transport {
public:
  PlacedTransport(std::unique_ptr<Transport> inner, const Placement &placement, bool byReference)
      : inner(std::move(inner)), placement(placement), byReference(byReference) {}

  int rank() const override { return inner->rank(); }
  int worldSize() const override { return inner->worldSize(); }
  void abort(const std::string &why) override { inner->abort(why); }
  void flush() override { inner->flush(); }

  void send(const std::string &key, int dst, const c10::IValue &value) override {
    if (byReference) {
      placement.synchronize();
      inner->send(key, dst, value);
      return;
    }
    inner->send(key, dst, dst == rank() ? value : placement.toHost(value));
  }

  c10::IValue recv(const std::string &key, int src) override {
    c10::IValue v = inner->recv(key, src);
    if (byReference || src == rank()) {
      placement.adopt(v);
      return v;
    }
    return placement.toDevice(v);
  }

private:
  std::unique_ptr<Transport> inner;
  const Placement &placement;
  bool byReference;
};

} // namespace

std::unique_ptr<Transport> ppc::rt::placeTransport(std::unique_ptr<Transport> inner,
                                                   const Placement &placement, bool byReference) {
  if (!placement.isCuda())
    return inner;
  return std::make_unique<PlacedTransport>(std::move(inner), placement, byReference);
}
