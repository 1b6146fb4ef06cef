//===- frontend/LoadExport.cpp - Loading a torch.export archive -----------===//
//
// A `.pt2` (torch.export.save) is a zip: models/model.json holds the
// serialized program (schema torch/_export/serde/schema.py), data/weights
// and data/constants hold each tensor's raw storage bytes plus a JSON config
// naming, per qualified name, the file and the view (sizes, strides, offset)
// into it. Names that point into one file share one storage here, so ties
// the export kept (lm_head.weight = wte.weight) stay ties. The program's
// parameters, buffers (persistent or not) and lifted tensor constants are
// registered on a module tree that mirrors the original hierarchy, including
// parameter-free modules named by nn_module_stack, so split paths and stage
// modules read exactly as for a scripted model.
//
//===----------------------------------------------------------------------===//
#include "frontend/LoadExport.h"
#include "frontend/ExportGraph.h"
#include "frontend/ModelImpl.h"

#include "ir/Diagnostics.h"
#include "support/ErrorText.h"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <map>

using namespace ppc;
using nlohmann::json;

namespace {

/// The schema major version this reader understands (torch 2.7 ... 2.11
/// write 8.x; minor versions only add optional fields).
constexpr int kSchemaMajor = 8;

std::string readText(caffe2::serialize::PyTorchStreamReader &reader, const std::string &name) {
  auto [data, size] = reader.getRecord(name);
  return std::string(static_cast<const char *>(data.get()), size);
}

json readJson(caffe2::serialize::PyTorchStreamReader &reader, const std::string &name) {
  try {
    return json::parse(readText(reader, name));
  } catch (const json::exception &e) {
    throw CompileError("exported program: '" + name + "' is not valid JSON: " + errorSummary(e));
  }
}

/// models/<name>.json: the program (an archive may package several).
std::string modelRecord(caffe2::serialize::PyTorchStreamReader &reader, const std::string &path) {
  if (reader.hasRecord("models/model.json"))
    return "models/model.json";
  std::vector<std::string> models;
  for (const std::string &r : reader.getAllRecords())
    if (r.rfind("models/", 0) == 0 && r.size() > 5 && r.substr(r.size() - 5) == ".json")
      models.push_back(r);
  if (models.size() != 1)
    throw CompileError("'" + path + "' holds " + std::to_string(models.size()) +
                           " exported programs; ppc compiles one",
                       "torch.export.save a single ExportedProgram");
  return models[0];
}

void checkSchemaVersion(const json &program, const std::string &path) {
  const json &v = program.value("schema_version", json::object());
  int major = v.value("major", -1), minor = v.value("minor", -1);
  if (major == kSchemaMajor)
    return;
  throw CompileError("'" + path + "' uses torch.export schema version " + std::to_string(major) +
                         "." + std::to_string(minor) + "; ppc reads schema " +
                         std::to_string(kSchemaMajor) + ".x",
                     "export with a PyTorch whose torch/_export/serde/schema.py has "
                     "SCHEMA_VERSION (" +
                         std::to_string(kSchemaMajor) + ", *), e.g. 2.11");
}

std::vector<int64_t> intList(const json &ints) {
  std::vector<int64_t> out;
  for (const json &s : ints) {
    if (!s.contains("as_int"))
      throw CompileError("exported program: a saved tensor has a symbolic size or stride");
    out.push_back(s.at("as_int").get<int64_t>());
  }
  return out;
}

/// The tensors of one payload directory (data/weights or data/constants) by
/// qualified name; entries in one file share its storage.
std::map<std::string, at::Tensor> readPayload(caffe2::serialize::PyTorchStreamReader &reader,
                                              const std::string &dir, const std::string &config) {
  std::map<std::string, at::Tensor> tensors;
  if (!reader.hasRecord(dir + "/" + config))
    return tensors;
  std::map<std::string, at::Tensor> files;
  std::map<std::tuple<std::string, std::vector<int64_t>, std::vector<int64_t>, int64_t>, at::Tensor>
      views;
  json payload = readJson(reader, dir + "/" + config);
  for (const auto &[fqn, entry] : payload.at("config").items()) {
    std::string file = entry.at("path_name");
    if (entry.value("use_pickle", false) || file.rfind("custom_obj_", 0) == 0)
      throw CompileError("exported program: '" + fqn +
                             "' is a pickled tensor or a script object, which ppc cannot load",
                         "keep parameters and buffers plain dense tensors");
    const json &meta = entry.at("tensor_meta");
    c10::ScalarType dtype = exportScalarType(meta.at("dtype").get<int64_t>());
    auto found = files.find(file);
    if (found == files.end()) {
      auto [data, size] = reader.getRecord(dir + "/" + file);
      int64_t elems = int64_t(size / c10::elementSize(dtype));
      at::Tensor flat = at::empty({elems}, at::TensorOptions().dtype(dtype));
      std::memcpy(flat.data_ptr(), data.get(), size);
      found = files.emplace(file, flat).first;
    }
    std::vector<int64_t> sizes = intList(meta.at("sizes")), strides = intList(meta.at("strides"));
    int64_t offset = meta.at("storage_offset").at("as_int");
    auto key = std::make_tuple(file, sizes, strides, offset);
    auto view = views.find(key);
    if (view == views.end())
      view = views.emplace(key, found->second.as_strided(sizes, strides, offset)).first;
    tensors[fqn] = view->second;
  }
  return tensors;
}

/// The module tree of an exported program, built by qualified name.
class ModuleTree {
public:
  ModuleTree()
      : cu(std::make_shared<torch::jit::CompilationUnit>()),
        root(c10::QualifiedName("__torch__.ppc_export.Model"), cu) {}

  /// The module at `path` ("" is the root), created with its parents.
  torch::jit::Module &at(const std::string &path) {
    if (path.empty())
      return root;
    auto it = modules.find(path);
    if (it != modules.end())
      return it->second;
    auto dot = path.rfind('.');
    std::string parent = dot == std::string::npos ? "" : path.substr(0, dot);
    std::string leaf = path.substr(dot == std::string::npos ? 0 : dot + 1);
    torch::jit::Module &up = at(parent);
    std::string cls = "__torch__.ppc_export.Model";
    llvm::SmallVector<llvm::StringRef, 8> parts;
    llvm::StringRef(path).split(parts, '.');
    for (llvm::StringRef p : parts)
      cls += "." + classAtom(p.str());
    torch::jit::Module sub(c10::QualifiedName(cls), cu);
    up.register_module(leaf, sub);
    return modules.emplace(path, sub).first->second;
  }

  /// Registers tensor `fqn` on its owner: parameter, buffer or plain attribute.
  void add(const std::string &fqn, const at::Tensor &t, bool isParam, bool isBuffer) {
    auto dot = fqn.rfind('.');
    torch::jit::Module &owner = at(dot == std::string::npos ? "" : fqn.substr(0, dot));
    std::string leaf = fqn.substr(dot == std::string::npos ? 0 : dot + 1);
    if (isParam)
      t.requires_grad_(true);
    owner.register_attribute(leaf, c10::TensorType::get(), t, isParam, isBuffer);
  }

  std::shared_ptr<torch::jit::CompilationUnit> cu;
  torch::jit::Module root;
  std::map<std::string, torch::jit::Module> modules;
};

const at::Tensor &tensorNamed(const std::map<std::string, at::Tensor> &from, const std::string &fqn,
                              const char *what) {
  auto it = from.find(fqn);
  if (it == from.end())
    throw CompileError("exported program: " + std::string(what) + " '" + fqn +
                       "' is in the graph signature but not in the archive");
  return it->second;
}

/// Parameters, buffers and lifted constants named by the graph signature.
void registerState(ModuleTree &tree, const json &signature,
                   const std::map<std::string, at::Tensor> &weights,
                   const std::map<std::string, at::Tensor> &constants) {
  for (const json &spec : signature.at("input_specs")) {
    const std::string kind = spec.begin().key();
    const json &body = spec.begin().value();
    if (kind == "parameter") {
      std::string fqn = body.at("parameter_name");
      tree.add(fqn, tensorNamed(weights, fqn, "parameter"), true, false);
    } else if (kind == "buffer") {
      std::string fqn = body.at("buffer_name");
      // Non-persistent buffers are saved with the constants.
      bool persistent = body.value("persistent", true);
      tree.add(fqn, tensorNamed(persistent ? weights : constants, fqn, "buffer"), false, true);
    } else if (kind == "tensor_constant") {
      std::string fqn = body.at("tensor_constant_name");
      tree.add(fqn, tensorNamed(constants, fqn, "tensor constant"), false, false);
    }
  }
}

} // namespace

bool ppc::isExportArchive(const std::string &path) {
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    return reader.hasRecord("archive_format") && readText(reader, "archive_format") == "pt2";
  } catch (const std::exception &) {
    return false; // not a zip: the TorchScript loader says why
  }
}

void ppc::loadExportedProgram(ModelImpl &impl) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  json program;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(impl.path);
    if (reader->hasRecord("byteorder") && readText(*reader, "byteorder") != "little")
      throw CompileError("'" + impl.path + "' was saved on a big-endian machine");
    program = readJson(*reader, modelRecord(*reader, impl.path));
  } catch (const c10::Error &e) {
    throw CompileError("cannot read exported program '" + impl.path + "': " + errorSummary(e));
  }
  checkSchemaVersion(program, impl.path);
  const json &gm = program.at("graph_module");
  ModuleTree tree;
  // Modules in the order the program first enters them, as named_modules() lists them.
  for (const json &node : gm.at("graph").at("nodes"))
    for (const std::string &p :
         modulePaths(node.value("metadata", json::object()).value("nn_module_stack", "")))
      tree.at(p);
  registerState(tree, gm.at("signature"),
                readPayload(*reader, "data/weights", "model_weights_config.json"),
                readPayload(*reader, "data/constants", "model_constants_config.json"));
  std::shared_ptr<torch::jit::Graph> graph = buildExportGraph(gm, tree.root);
  auto *fn = tree.cu->create_function(c10::QualifiedName(*tree.root.type()->name(), "forward"),
                                      graph->copy());
  tree.root.type()->addMethod(fn);
  impl.module = tree.root;
  impl.inlined = graph;
}
