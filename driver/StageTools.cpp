//===- driver/StageTools.cpp - `ppc verify` and `ppc merge` ---------------===//
//
// verify chains the saved stages in one process, exactly as the manifest
// wires them, and compares each model output with the unpartitioned model's
// on the same inputs. merge copies stage parameters (after training) back
// into the whole model.
//
//===----------------------------------------------------------------------===//
#include "driver/Driver.h"

#include "frontend/LoadExport.h"
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
    torch::jit::Module m = torch::jit::load(path, torch::kCPU); // ppc runs on the CPU
    m.eval();
    return m;
  } catch (const std::exception &e) {
    throw CompileError("cannot load '" + path + "': " + errorSummary(e));
  }
}

/// How far one output is from the model's: the largest relative difference of
/// its floating leaves, or why the two are not equal at all.
struct Difference {
  double rel = 0;
  std::string mismatch; // non-empty: structure, type, content or NaN/Inf
  bool ok(double tolerance) const { return mismatch.empty() && rel <= tolerance; }
  void merge(const Difference &d) {
    rel = std::max(rel, d.rel);
    if (mismatch.empty())
      mismatch = d.mismatch;
  }
};

Difference mismatch(std::string why) { return {0, std::move(why)}; }

int64_t nonFinite(const at::Tensor &t) { return (~torch::isfinite(t)).sum().item<int64_t>(); }

// NaN compares false with everything, so a max over differences would drop
// it: a non-finite value on either side is a failure of its own.
Difference tensorDifference(const at::Tensor &a, const at::Tensor &b) {
  if (a.sizes() != b.sizes() || a.scalar_type() != b.scalar_type())
    return mismatch("differs in shape or dtype");
  if (!a.is_floating_point())
    return torch::equal(a, b) ? Difference() : mismatch("integer tensor differs");
  if (a.numel() == 0)
    return {};
  int64_t badGot = nonFinite(a), badWant = nonFinite(b);
  if (badGot || badWant)
    return mismatch(llvm::formatv("holds NaN/Inf ({0} non-finite in the stages, {1} in the model)",
                                  badGot, badWant)
                        .str());
  double scale = std::max(1.0, b.abs().max().item<double>());
  return {(a - b).abs().max().item<double>() / scale, ""};
}

Difference difference(const c10::IValue &got, const c10::IValue &want) {
  if (got.isTensor() != want.isTensor())
    return mismatch("differs in structure or type");
  if (got.isTensor())
    return tensorDifference(got.toTensor(), want.toTensor());
  if ((got.isTuple() || got.isList()) && (want.isTuple() || want.isList())) {
    auto ga = got.isTuple() ? got.toTupleRef().elements().vec() : got.toListRef().vec();
    auto wa = want.isTuple() ? want.toTupleRef().elements().vec() : want.toListRef().vec();
    if (ga.size() != wa.size())
      return mismatch("differs in structure or type");
    Difference worst;
    for (size_t i = 0; i < ga.size(); ++i)
      worst.merge(difference(ga[i], wa[i]));
    return worst;
  }
  std::ostringstream a, b;
  a << got;
  b << want;
  return a.str() == b.str() ? Difference() : mismatch("differs in value");
}

std::string describe(const Difference &d) {
  std::string rel = llvm::formatv("max rel diff {0:e2}", d.rel).str();
  return d.mismatch.empty() ? rel : d.mismatch;
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
  // A .pt2 is compared with the module ppc rebuilt from it (the Model keeps it alive).
  std::unique_ptr<Model> exported = isExportArchive(modelPath) ? Model::load(modelPath) : nullptr;
  torch::jit::Module model = exported ? exported->impl().module : loadModule(modelPath);
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
  Difference worst;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string &name = outputs[i].value;
    Difference d = difference(env.at(name), want[i]);
    worst.merge(d);
    out << llvm::format("output %zu (%s, stage %d): ", i, name.c_str(), outputs[i].stage)
        << describe(d) << "\n";
  }
  bool ok = worst.ok(tolerance);
  out << (ok ? "ok: " : "FAIL: ") << manifest.numStages() << " stages vs the unpartitioned model, "
      << describe(worst) << "\n";
  return ok ? 0 : 1;
}

int ppc::mergeStages(const std::string &modelPath, const std::string &dir,
                     const std::string &outFile, llvm::raw_ostream &out) {
  rt::Manifest manifest = loadManifest(dir);
  // A .pt2 is merged into the module ppc rebuilt from it, saved as TorchScript.
  std::unique_ptr<Model> exported = isExportArchive(modelPath) ? Model::load(modelPath) : nullptr;
  torch::jit::Module model = exported ? exported->impl().module : loadModule(modelPath);
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
