//===- driver/StageTools.cpp - `ppc verify` and `ppc merge` ---------------===//
//
// verify chains the saved stages in one process, exactly as the manifest
// wires them, and compares each model output with the unpartitioned model's
// on the same inputs. merge copies stage parameters (after training) back
// into the whole model.
//
//===----------------------------------------------------------------------===//
#include "driver/Driver.h"

#include "frontend/ModelImpl.h"
#include "ir/Diagnostics.h"
#include "runtime/Manifest.h"
#include "support/ErrorText.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace ppc;

namespace {

/// The manifest of `dir`, its reading errors as diagnostics.
rt::Manifest loadManifest(const std::string &dir) {
  try {
    return rt::readManifest(dir);
  } catch (const std::runtime_error &e) {
    throw CompileError(e.what());
  }
}

torch::jit::Module loadModule(const std::string &path) {
  if (!std::filesystem::exists(path))
    throw CompileError("'" + path + "' not found", "recompile the stages");
  try {
    torch::jit::Module m = torch::jit::load(path);
    m.eval();
    return m;
  } catch (const std::exception &e) {
    throw CompileError("cannot load '" + path + "': " + errorSummary(e));
  }
}

/// Largest relative difference between two values; nullopt when they differ
/// in structure, dtype, shape, or exactly-compared content.
std::optional<double> difference(const c10::IValue &got, const c10::IValue &want) {
  if (got.isTensor() != want.isTensor())
    return std::nullopt;
  if (got.isTensor()) {
    at::Tensor a = got.toTensor(), b = want.toTensor();
    if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type())
      return std::nullopt;
    if (!a.is_floating_point())
      return torch::equal(a, b) ? std::optional<double>(0.0) : std::nullopt;
    if (a.numel() == 0)
      return 0.0;
    double scale = std::max(1.0, b.abs().max().item<double>());
    return (a - b).abs().max().item<double>() / scale;
  }
  if ((got.isTuple() || got.isList()) && (want.isTuple() || want.isList())) {
    auto ga = got.isTuple() ? got.toTupleRef().elements().vec() : got.toListRef().vec();
    auto wa = want.isTuple() ? want.toTupleRef().elements().vec() : want.toListRef().vec();
    if (ga.size() != wa.size())
      return std::nullopt;
    double worst = 0;
    for (size_t i = 0; i < ga.size(); ++i) {
      auto d = difference(ga[i], wa[i]);
      if (!d)
        return std::nullopt;
      worst = std::max(worst, *d);
    }
    return worst;
  }
  std::ostringstream a, b;
  a << got;
  b << want;
  return a.str() == b.str() ? std::optional<double>(0.0) : std::nullopt;
}

std::vector<c10::IValue> asList(const c10::IValue &v) {
  if (v.isTuple())
    return v.toTupleRef().elements().vec();
  return {v};
}

std::map<std::string, c10::IValue> runStages(const rt::Manifest &manifest,
                                             const std::vector<c10::IValue> &inputs) {
  std::map<std::string, c10::IValue> env;
  if (manifest.inputs.size() != inputs.size())
    throw CompileError("the pipeline takes " + std::to_string(manifest.inputs.size()) +
                       " inputs, the inputs file has " + std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i)
    env[manifest.inputs[i].name] = inputs[i];
  torch::NoGradGuard noGrad;
  for (const rt::StageSpec &stage : manifest.stages) {
    torch::jit::Module m = loadModule(manifest.dir + "/" + stage.file);
    std::vector<c10::IValue> args;
    for (const rt::StageInput &in : stage.inputs)
      args.push_back(env.at(in.value));
    std::vector<c10::IValue> outs = asList(m.forward(args));
    if (outs.size() != stage.outputs.size())
      throw CompileError("stage " + std::to_string(stage.index) + " returned " +
                         std::to_string(outs.size()) + " values, pipeline.json lists " +
                         std::to_string(stage.outputs.size()));
    for (size_t i = 0; i < outs.size(); ++i)
      env[stage.outputs[i]] = outs[i];
  }
  return env;
}

} // namespace

int ppc::verifyStages(const std::string &modelPath, const std::string &dir,
                      const std::string &ioFile, double tolerance, llvm::raw_ostream &out) {
  rt::Manifest manifest = loadManifest(dir);
  std::vector<c10::IValue> inputs = readInputsFile(ioFile);
  torch::jit::Module model = loadModule(modelPath);
  std::vector<c10::IValue> want;
  {
    torch::NoGradGuard noGrad;
    want = asList(model.forward(inputs));
  }
  std::map<std::string, c10::IValue> env = runStages(manifest, inputs);
  const std::vector<rt::ModelOutput> &outputs = manifest.outputs;
  if (outputs.size() != want.size())
    throw CompileError("pipeline.json lists " + std::to_string(outputs.size()) +
                       " outputs, the model returns " + std::to_string(want.size()));
  bool ok = true;
  double worst = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string &name = outputs[i].value;
    auto d = difference(env.at(name), want[i]);
    ok &= d && *d <= tolerance;
    worst = std::max(worst, d.value_or(INFINITY));
    out << llvm::format("output %zu (%s, stage %d): ", i, name.c_str(), outputs[i].stage)
        << (d ? llvm::formatv("max rel diff {0:e2}", *d).str() : "differs in structure or type")
        << "\n";
  }
  out << (ok ? "ok: " : "FAIL: ") << manifest.numStages() << " stages vs the unpartitioned model, "
      << llvm::formatv("max rel diff {0:e2}", worst) << "\n";
  return ok ? 0 : 1;
}

int ppc::mergeStages(const std::string &modelPath, const std::string &dir,
                     const std::string &outFile, llvm::raw_ostream &out) {
  rt::Manifest manifest = loadManifest(dir);
  torch::jit::Module model = loadModule(modelPath);
  std::map<std::string, at::Tensor> target;
  for (const auto &p : model.named_parameters(true))
    target[p.name] = p.value;
  for (const auto &b : model.named_buffers(true))
    target[b.name] = b.value;
  torch::NoGradGuard noGrad;
  size_t copied = 0;
  for (const rt::StageSpec &stage : manifest.stages) {
    torch::jit::Module m = loadModule(dir + "/" + stage.file);
    auto copyAll = [&](const std::string &name, const at::Tensor &t) {
      auto it = target.find(name);
      if (it == target.end())
        throw CompileError("stage parameter '" + name + "' is not in '" + modelPath + "'",
                           "merge into the model the stages were compiled from");
      it->second.copy_(t);
      ++copied;
    };
    for (const auto &p : m.named_parameters(true))
      copyAll(p.name, p.value);
    for (const auto &b : m.named_buffers(true))
      copyAll(b.name, b.value);
  }
  model.save(outFile);
  out << "ppc: merged " << copied << " tensors from " << manifest.numStages() << " stages into "
      << outFile << "\n";
  return 0;
}
