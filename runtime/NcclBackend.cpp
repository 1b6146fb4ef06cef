//===- runtime/NcclBackend.cpp - ProcessGroupNCCL, where LibTorch has it --===//
//
// The one file that includes ProcessGroupNCCL.hpp (it needs CUDA and NCCL
// headers), built with NCCL support only when LibTorch is a CUDA build.
//
//===----------------------------------------------------------------------===//
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

#ifdef PPC_WITH_CUDA
#define USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <stdexcept>

namespace ppc::rt {

c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store> &store,
                                                  int rank, int worldSize,
                                                  std::chrono::milliseconds timeout) {
#ifdef PPC_WITH_CUDA
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, worldSize, options);
#else
  throw std::runtime_error("--backend nccl needs a CUDA build of LibTorch; this one is CPU-only");
#endif
}

} // namespace ppc::rt
