//===- runtime/Training.cpp - Optimizer, ties, gradients on disk ----------===//
//
// Tied gradients: every holder stage sends its contribution to the group's
// first holder, which sums them and sends the total back, so every copy
// takes the same optimizer step from the same value. A holder sends as soon
// as its stage's last backward of the step has run (tiedGradientsFinal, from
// the executor), so the transfer overlaps the rest of the schedule instead
// of following it; the leader sums after its own schedule. The gradient norm: each
// rank sums its squares, rank 0 adds them in rank order and sends the total
// back, so every rank clips by the same factor.
//
//===----------------------------------------------------------------------===//
#include "runtime/Training.h"

#include "support/Fault.h"
#include "support/TorchSave.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>

using namespace ppc::rt;
namespace fs = std::filesystem;

static double orDefault(double v, double fallback) { return std::isnan(v) ? fallback : v; }

std::unique_ptr<torch::optim::Optimizer> ppc::rt::makeOptimizer(const OptimizerOptions &o,
                                                                std::vector<at::Tensor> params) {
  using namespace torch::optim;
  std::tuple<double, double> betas{orDefault(o.beta1, 0.9), orDefault(o.beta2, 0.999)};
  if (o.name == "sgd")
    return std::make_unique<SGD>(params, SGDOptions(o.lr)
                                             .momentum(orDefault(o.momentum, 0))
                                             .weight_decay(orDefault(o.weightDecay, 0)));
  if (o.name == "adam")
    return std::make_unique<Adam>(params, AdamOptions(o.lr).betas(betas).eps(o.eps).weight_decay(
                                              orDefault(o.weightDecay, 0)));
  if (o.name == "adamw")
    return std::make_unique<AdamW>(params, AdamWOptions(o.lr).betas(betas).eps(o.eps).weight_decay(
                                               orDefault(o.weightDecay, 0.01)));
  throw std::runtime_error("--optimizer must be sgd, adam or adamw, not '" + o.name + "'");
}

/// Whether `name` on `stage` is a tied copy other than its group's first.
static bool isFollowerCopy(const Manifest &manifest, int stage, const std::string &name) {
  for (const TiedGroup &group : manifest.tied)
    if (group.stages.size() > 1 && group.stages.front() != stage &&
        std::find(group.parameters.begin(), group.parameters.end(), name) != group.parameters.end())
      return true;
  return false;
}

double ppc::rt::globalGradNorm(std::map<int, torch::jit::Module> &stages, const Manifest &manifest,
                               Transport &transport, const std::string &key, double extraSquares) {
  double squares = extraSquares;
  for (auto &[index, module] : stages)
    for (const auto &p : module.named_parameters(true))
      if (p.value.grad().defined() && !isFollowerCopy(manifest, index, p.name))
        squares += std::pow(p.value.grad().norm(2).item<double>(), 2);
  if (transport.rank() != 0) {
    transport.send(key, 0, squares);
    return transport.recv(key + "|total", 0).toDouble();
  }
  for (int r = 1; r < transport.worldSize(); ++r)
    squares += transport.recv(key, r).toDouble();
  double norm = std::sqrt(squares);
  for (int r = 1; r < transport.worldSize(); ++r)
    transport.send(key + "|total", r, norm);
  return norm;
}

double ppc::rt::clipGradients(std::map<int, torch::jit::Module> &stages, double norm,
                              double maxNorm) {
  double factor = std::min(1.0, maxNorm / (norm + 1e-6));
  if (factor >= 1.0)
    return 1.0;
  for (auto &[index, module] : stages)
    for (const auto &p : module.named_parameters(true))
      if (p.value.grad().defined())
        p.value.mutable_grad().mul_(factor);
  return factor;
}

Trainer::Trainer(Executor &executor, const Manifest &manifest, Transport &transport,
                 const OptimizerOptions &options)
    : executor(executor), manifest(manifest), transport(transport) {
  std::vector<at::Tensor> params;
  for (at::Tensor p : executor.parameters())
    if (p.is_floating_point())
      params.push_back(p.requires_grad_(true));
  optimizer = makeOptimizer(options, params);
}

Trainer::Trainer(Executor &executor, const Manifest &manifest, Transport &transport,
                 const std::string &optimizer, double lr)
    : Trainer(executor, manifest, transport, [&] {
        OptimizerOptions o;
        o.name = optimizer;
        o.lr = lr;
        return o;
      }()) {}

double Trainer::gradNorm(int step, double extraSquares) {
  return globalGradNorm(executor.stages(), manifest, transport, "N|" + std::to_string(step),
                        extraSquares);
}

void Trainer::clip(double norm, double maxNorm) { clipGradients(executor.stages(), norm, maxNorm); }

void Trainer::setLearningRate(double lr) {
  for (torch::optim::OptimizerParamGroup &group : optimizer->param_groups())
    group.options().set_lr(lr);
}

void Trainer::saveOptimizer(const std::string &path) {
  torch::serialize::OutputArchive archive;
  optimizer->save(archive);
  archive.save_to(path);
}

void Trainer::loadOptimizer(const std::string &path, c10::Device device) {
  torch::serialize::InputArchive archive;
  archive.load_from(path, device);
  optimizer->load(archive);
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

static std::string tiedKey(int step, size_t g) {
  return "T|" + std::to_string(step) + "|" + std::to_string(g) + "|";
}

void Trainer::sendTiedShare(int step, size_t g, int stage) {
  const TiedGroup &group = manifest.tied[g];
  at::Tensor mine = groupGrad(stage, group);
  transport.send(tiedKey(step, g) + std::to_string(stage),
                 group.stages.front() % transport.worldSize(),
                 mine.defined() ? c10::IValue(mine) : c10::IValue());
}

void Trainer::tiedGradientsFinal(int stage, int step) {
  if (step < 0)
    return;
  bool sent = false;
  for (size_t g = 0; g < manifest.tied.size(); ++g) {
    const std::vector<int> &holders = manifest.tied[g].stages;
    if (holders.size() < 2 || holders.front() == stage ||
        std::find(holders.begin(), holders.end(), stage) == holders.end())
      continue;
    sendTiedShare(step, g, stage);
    sent = true;
  }
  if (sent)
    sharesSent.insert(stage);
}

void Trainer::sumTiedGradients(int step) {
  int n = transport.worldSize();
  for (size_t g = 0; g < manifest.tied.size(); ++g) {
    const TiedGroup &group = manifest.tied[g];
    if (group.stages.size() < 2)
      continue;
    int leader = group.stages.front();
    std::string key = tiedKey(step, g);
    for (int s : group.stages)
      if (s != leader && s % n == transport.rank() && !sharesSent.count(s))
        sendTiedShare(step, g, s);
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
    ppc::faultPoint("tied", transport.rank(), step);
    for (int s : group.stages)
      if (s != leader && s % n == transport.rank()) {
        c10::IValue total = transport.recv(key + "sum|" + std::to_string(s), leader % n);
        if (total.isTensor())
          setGroupGrad(s, group, total.toTensor());
      }
  }
  sharesSent.clear(); // this step's; the next step's come after
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

void Trainer::saveStages(const std::string &dir) {
  // From host memory, so the checkpoint loads on any machine; a copy, as
  // training may go on.
  for (auto &[index, module] : executor.stages()) {
    if (module.parameters().size() > 0 && !(*module.parameters().begin()).is_cpu()) {
      torch::jit::Module copy = module.deepcopy();
      copy.to(at::kCPU);
      copy.save(dir + "/" + manifest.stages[index].file);
    } else {
      module.save(dir + "/" + manifest.stages[index].file);
    }
  }
}

void Trainer::checkpoint(const std::string &dir, const std::string &sourceDir) {
  fs::create_directories(dir);
  saveStages(dir);
  if (transport.rank() != 0)
    return;
  for (const char *name : {"pipeline.json", "ir.txt"})
    if (fs::exists(sourceDir + "/" + name))
      fs::copy_file(sourceDir + "/" + name, dir + "/" + name, fs::copy_options::overwrite_existing);
}
