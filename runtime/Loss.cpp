//===- runtime/Loss.cpp - The training loss on model output 0 -------------===//
//
// See Loss.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/Loss.h"

#include <torch/torch.h>

#include <filesystem>

using namespace ppc::rt;

LossSpec ppc::rt::makeLoss(const std::string &spec) {
  LossSpec loss;
  loss.kind = spec;
  if (spec == "cross_entropy" || spec == "mse")
    return loss;
  if (!std::filesystem::exists(spec))
    throw std::runtime_error("--loss '" + spec +
                             "' is neither cross_entropy, mse nor a TorchScript file");
  loss.module = torch::jit::load(spec);
  return loss;
}

at::Tensor ppc::rt::computeLoss(const LossSpec &loss, const at::Tensor &out,
                                const at::Tensor &target) {
  if (loss.kind == "cross_entropy")
    return torch::nn::functional::cross_entropy(out.reshape({-1, out.size(-1)}),
                                                target.reshape({-1}).to(torch::kLong));
  if (loss.kind == "mse")
    return torch::mse_loss(out, target.to(out.scalar_type()));
  torch::jit::Module module = *loss.module; // a handle; forward is not const
  return module.forward({out, target}).toTensor();
}

at::Tensor ppc::rt::placeholderTarget(const LossSpec &loss, const at::Tensor &out) {
  if (loss.kind == "cross_entropy") {
    std::vector<int64_t> sizes(out.sizes().begin(), out.sizes().end() - 1);
    return torch::zeros(sizes, out.options().dtype(torch::kLong));
  }
  return torch::zeros_like(out, at::MemoryFormat::Contiguous).detach();
}
