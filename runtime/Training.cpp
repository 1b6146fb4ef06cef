//===- runtime/Training.cpp - Optimizer, ties, gradients on disk ----------===//
//
// Tied gradients: every holder stage sends its contribution to the group's
// first holder, which sums them and sends the total back, so every copy
// takes the same optimizer step from the same value.
//
//===----------------------------------------------------------------------===//
#include "runtime/Training.h"

#include "runtime/Report.h"
#include "support/TorchSave.h"

#include <torch/torch.h>

#include <filesystem>

using namespace ppc::rt;
namespace fs = std::filesystem;

LossSpec ppc::rt::makeLoss(const std::string &spec) {
  LossSpec loss;
  loss.kind = spec;
  if (spec == "cross_entropy" || spec == "mse")
    return loss;
  if (!fs::exists(spec))
    throw std::runtime_error("--loss '" + spec +
                             "' is neither cross_entropy, mse nor a TorchScript file");
  loss.module = torch::jit::load(spec);
  return loss;
}

Trainer::Trainer(Executor &executor, const Manifest &manifest, Transport &transport,
                 const std::string &optimizer, double lr)
    : executor(executor), manifest(manifest), transport(transport) {
  std::vector<at::Tensor> params;
  for (at::Tensor p : executor.parameters())
    if (p.is_floating_point())
      params.push_back(p.requires_grad_(true));
  if (optimizer == "sgd")
    this->optimizer = std::make_unique<torch::optim::SGD>(params, torch::optim::SGDOptions(lr));
  else if (optimizer == "adam")
    this->optimizer = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(lr));
  else
    throw std::runtime_error("--optimizer must be sgd or adam, not '" + optimizer + "'");
}

void Trainer::zeroGrad() {
  for (at::Tensor p : executor.parameters())
    if (p.grad().defined())
      p.mutable_grad() = at::Tensor();
}

void Trainer::step() { optimizer->step(); }

static bool inGroup(const TiedGroup &group, const std::string &name) {
  return std::find(group.parameters.begin(), group.parameters.end(), name) !=
         group.parameters.end();
}

at::Tensor Trainer::groupGrad(int stage, const TiedGroup &group) {
  at::Tensor sum;
  for (const auto &p : executor.stages().at(stage).named_parameters(true))
    if (inGroup(group, p.name) && p.value.grad().defined())
      sum = sum.defined() ? sum + p.value.grad() : p.value.grad().clone();
  return sum;
}

void Trainer::setGroupGrad(int stage, const TiedGroup &group, const at::Tensor &grad) {
  for (const auto &p : executor.stages().at(stage).named_parameters(true))
    if (inGroup(group, p.name))
      p.value.mutable_grad() = grad.clone();
}

void Trainer::sumTiedGradients(int step) {
  int n = transport.worldSize();
  for (size_t g = 0; g < manifest.tied.size(); ++g) {
    const TiedGroup &group = manifest.tied[g];
    if (group.stages.size() < 2)
      continue;
    int leader = group.stages.front();
    std::string key = "T|" + std::to_string(step) + "|" + std::to_string(g) + "|";
    for (int s : group.stages)
      if (s != leader && s % n == transport.rank()) {
        at::Tensor mine = groupGrad(s, group);
        transport.send(key + std::to_string(s), leader % n,
                       mine.defined() ? c10::IValue(mine) : c10::IValue());
      }
    if (leader % n == transport.rank()) {
      at::Tensor total = groupGrad(leader, group);
      for (int s : group.stages)
        if (s != leader) {
          c10::IValue part = transport.recv(key + std::to_string(s), s % n);
          if (part.isTensor())
            total = total.defined() ? total + part.toTensor() : part.toTensor();
        }
      for (int s : group.stages)
        if (s != leader)
          transport.send(key + "sum|" + std::to_string(s), s % n,
                         total.defined() ? c10::IValue(total) : c10::IValue());
      if (total.defined())
        setGroupGrad(leader, group, total);
    }
    for (int s : group.stages)
      if (s != leader && s % n == transport.rank()) {
        c10::IValue total = transport.recv(key + "sum|" + std::to_string(s), leader % n);
        if (total.isTensor())
          setGroupGrad(s, group, total.toTensor());
      }
  }
}

void Trainer::saveGradients(const std::string &path) {
  c10::Dict<std::string, at::Tensor> grads;
  for (auto &[index, module] : executor.stages())
    for (const auto &p : module.named_parameters(true))
      if (p.value.grad().defined())
        grads.insert_or_assign(p.name, p.value.grad().cpu().clone());
  if (transport.rank() != 0) {
    transport.send("R|grads", 0, grads);
    return;
  }
  for (int r = 1; r < transport.worldSize(); ++r)
    for (const auto &item : transport.recv("R|grads", r).toGenericDict())
      grads.insert_or_assign(item.key().toStringRef(), item.value().toTensor().cpu());
  ppc::writeTorchSave(path, grads);
}

void Trainer::checkpoint(const std::string &dir, const std::string &sourceDir) {
  fs::create_directories(dir);
  // Saved from host memory, so the checkpoint loads on any machine (the run is over).
  for (auto &[index, module] : executor.stages()) {
    module.to(at::kCPU);
    module.save(dir + "/" + manifest.stages[index].file);
  }
  if (transport.rank() != 0)
    return;
  for (const char *name : {"pipeline.json", "ir.txt"})
    if (fs::exists(sourceDir + "/" + name))
      fs::copy_file(sourceDir + "/" + name, dir + "/" + name, fs::copy_options::overwrite_existing);
}
