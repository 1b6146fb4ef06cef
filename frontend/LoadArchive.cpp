//===- frontend/LoadArchive.cpp - Loading a TorchScript archive -----------===//
//
// Opens the archive with clear diagnostics (missing, truncated, random bytes,
// a torch.save file instead of TorchScript), inlines and lowers its forward,
// and collects parameters, buffers and ties: names that share one storage
// (a tie the export kept) and, on request, user-given ties.
//
//===----------------------------------------------------------------------===//
#include "frontend/LoadExport.h"
#include "frontend/ModelImpl.h"

#include "ir/Diagnostics.h"
#include "support/ErrorText.h"

#include <caffe2/serialize/inline_container.h>

#include <filesystem>
#include <map>

using namespace ppc;

namespace {

/// Why `path` did not load as TorchScript, in the user's terms.
std::string diagnoseArchive(const std::string &path, const std::string &loadError) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    bool hasCode = false;
    for (const std::string &r : reader.getAllRecords())
      hasCode |= r.find("code/") != std::string::npos || r == "constants.pkl";
    if (!hasCode)
      return "'" + path + "' is a torch.save file (e.g. a state dict), not a TorchScript archive";
  } catch (const std::exception &) {
    return "'" + path + "' is not a TorchScript archive (corrupt or truncated zip)";
  }
  return "cannot load TorchScript archive '" + path + "': " + loadError;
}

TensorInfo tensorInfo(const at::Tensor &t) {
  TensorInfo info;
  info.dtype = dtypeName(t.scalar_type());
  info.hasShape = true;
  info.shape.assign(t.sizes().begin(), t.sizes().end());
  return info;
}

void collectParams(ModelImpl &impl) {
  for (const auto &p : impl.module.named_parameters(true))
    impl.ir.params.push_back({p.name, true, false, tensorInfo(p.value)});
  for (const auto &b : impl.module.named_buffers(true))
    impl.ir.params.push_back({b.name, false, true, tensorInfo(b.value)});
  for (const auto &m : impl.module.named_modules())
    if (!m.name.empty())
      impl.ir.modules.push_back(m.name);
}

/// Groups names whose tensors are the same storage view.
void collectStorageTies(ModelImpl &impl) {
  std::map<std::tuple<const void *, int64_t, std::vector<int64_t>>, std::vector<std::string>>
      byStorage;
  auto add = [&](const std::string &name, const at::Tensor &t) {
    if (!t.defined() || !t.has_storage())
      return;
    byStorage[{t.storage().unsafeGetStorageImpl(), t.storage_offset(), t.sizes().vec()}].push_back(
        name);
  };
  for (const auto &p : impl.module.named_parameters(true))
    add(p.name, p.value);
  for (const auto &b : impl.module.named_buffers(true))
    add(b.name, b.value);
  for (auto &[key, names] : byStorage)
    if (names.size() > 1)
      impl.ir.ties.push_back({names, {}});
}

} // namespace

Model::Model() : p(std::make_unique<ModelImpl>()) {}
Model::~Model() = default;
Graph &Model::graph() { return p->ir; }
const std::string &Model::path() const { return p->path; }

std::unique_ptr<Model> Model::load(const std::string &path) {
  if (!std::filesystem::exists(path))
    throw CompileError("model file '" + path + "' not found", "check the path");
  if (std::filesystem::is_directory(path))
    throw CompileError("'" + path + "' is a directory, not a TorchScript archive");
  std::unique_ptr<Model> model(new Model());
  ModelImpl &impl = *model->p;
  impl.path = path;
  if (isExportArchive(path)) { // a torch.export .pt2: same module and graph form
    loadExportedProgram(impl);
    collectParams(impl);
    collectStorageTies(impl);
    lowerToIR(impl);
    return model;
  }
  try {
    // On the CPU whatever device it was saved from: the compiler runs no GPU
    // code (it links no CUDA), and stages are placed by pprun.
    impl.module = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception &e) {
    throw CompileError(diagnoseArchive(path, errorSummary(e)),
                       "export the model with torch.jit.script or torch.jit.trace, then "
                       "torch.jit.save");
  }
  impl.module.eval();
  if (!impl.module.find_method("forward"))
    throw CompileError("'" + path + "' has no forward method");
  impl.inlined = impl.module.get_method("forward").graph()->copy();
  inlineWithPaths(*impl.inlined);
  collectParams(impl);
  collectStorageTies(impl);
  lowerToIR(impl);
  return model;
}

int64_t Model::parameterCount() const {
  std::set<const void *> seen;
  int64_t count = 0;
  for (const auto &param : p->module.named_parameters(true))
    if (seen.insert(param.value.storage().unsafeGetStorageImpl()).second)
      count += param.value.numel();
  return count;
}

std::vector<std::pair<std::string, std::string>> Model::equalUntiedParameters() const {
  auto isTied = [&](const std::string &a, const std::string &b) {
    for (const Tie &t : p->ir.ties)
      if (llvm::is_contained(t.parameters, a) && llvm::is_contained(t.parameters, b))
        return true;
    return false;
  };
  std::vector<std::pair<std::string, at::Tensor>> big;
  for (const auto &param : p->module.named_parameters(true))
    // Small or constant tensors (LayerNorm weights of ones) are equal by construction.
    if (param.value.dim() >= 2 && param.value.numel() >= 1024 &&
        !torch::equal(param.value.max(), param.value.min()))
      big.push_back({param.name, param.value});
  std::vector<std::pair<std::string, std::string>> pairs;
  for (size_t i = 0; i < big.size(); ++i)
    for (size_t j = i + 1; j < big.size(); ++j)
      if (big[i].second.sizes() == big[j].second.sizes() && !isTied(big[i].first, big[j].first) &&
          torch::equal(big[i].second, big[j].second))
        pairs.push_back({big[i].first, big[j].first});
  return pairs;
}

void Model::addTie(const std::string &a, const std::string &b) {
  const ParamInfo *pa = p->ir.paramInfo(a);
  const ParamInfo *pb = p->ir.paramInfo(b);
  for (auto [name, info] : {std::pair{a, pa}, std::pair{b, pb}})
    if (!info)
      throw CompileError("--tie " + a + "=" + b + ": the model has no parameter '" + name + "'");
  if (pa->tensor.shape != pb->tensor.shape || pa->tensor.dtype != pb->tensor.dtype)
    throw CompileError("--tie " + a + "=" + b + ": the two parameters differ in shape or dtype");
  for (Tie &t : p->ir.ties)
    if (llvm::is_contained(t.parameters, a) || llvm::is_contained(t.parameters, b)) {
      for (const std::string &n : {a, b})
        if (!llvm::is_contained(t.parameters, n))
          t.parameters.push_back(n);
      return;
    }
  p->ir.ties.push_back({{a, b}, {}});
}
