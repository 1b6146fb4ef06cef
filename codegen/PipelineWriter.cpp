//===- codegen/PipelineWriter.cpp - The output directory and manifest ----===//
//
// Fills the pipeline.json schema (runtime/Manifest.h) from the partitioned IR
// and saves every stage into a temporary sibling directory, which is renamed
// into place only when everything succeeded, so a failed compile leaves no
// partial output. Stages are saved one after another: saving them in parallel
// (TBB, measured on GPT-2's four stages, 2 cores) took 128 ms against 107 ms,
// the two big stages (embedding, head) being most of the bytes.
//
//===----------------------------------------------------------------------===//
#include "codegen/Codegen.h"

#include "frontend/Frontend.h"
#include "ir/Diagnostics.h"
#include "passes/Partitioner.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"

#include <openssl/evp.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

using namespace ppc;
namespace fs = std::filesystem;

namespace {

rt::ValueType valueType(const Value &v) {
  rt::ValueType t;
  t.type = v.type;
  t.dtype = v.tensor.dtype;
  t.hasShape = v.tensor.hasShape;
  if (v.tensor.hasShape)
    t.shape.assign(v.tensor.shape.begin(), v.tensor.shape.end());
  return t;
}

/// Modules whose ops all lie in `stage` and whose parent's do not.
std::vector<std::string> stageModules(const Graph &g, int stage) {
  std::map<std::string, std::set<int>> stagesOf;
  for (const auto &op : g.ops())
    for (const std::string &m : g.modules)
      if (isWithinModule(op->path, m))
        stagesOf[m].insert(op->stage);
  auto onlyHere = [&](const std::string &m) {
    auto it = stagesOf.find(m);
    return it != stagesOf.end() && it->second == std::set<int>{stage};
  };
  std::vector<std::string> out;
  for (const std::string &m : g.modules) {
    llvm::StringRef parent = llvm::StringRef(m).rsplit('.').first;
    bool parentHere = parent != m && onlyHere(parent.str());
    if (onlyHere(m) && !parentHere)
      out.push_back(m);
  }
  return out;
}

/// Bytes come from the one stageCosts() the partitioner and the simulation use.
rt::StageCost stageCost(const Graph &g, const StageCost &cost, int stage) {
  double timeMs = 0, flops = 0, backwardMs = 0;
  for (const auto &op : g.ops()) {
    if (op->stage != stage)
      continue;
    timeMs += op->cost.timeMs;
    backwardMs += op->cost.backwardMs;
    flops += op->cost.flops;
  }
  bool planned = stage < int(g.stageMemoryBytes.size());
  return {timeMs,
          flops,
          int64_t(cost.paramBytes),
          int64_t(cost.activationBytes),
          backwardMs,
          planned ? int64_t(g.stageMemoryBytes[stage]) : 0};
}

rt::StageSpec stageSpec(const Graph &g, const std::vector<StageCost> &costs, int k) {
  const StageInterface &io = g.stageInterfaces[k];
  rt::StageSpec s;
  s.index = k;
  s.file = "stage" + std::to_string(k) + ".pt";
  for (const Value *v : io.inputs)
    s.inputs.push_back({v->name, g.producerStage(*v)});
  for (const Value *v : io.outputs)
    s.outputs.push_back(v->name);
  s.parameters = io.parameters;
  s.modules = stageModules(g, k);
  s.cost = stageCost(g, costs[k], k);
  s.recompute = g.recomputes(k);
  return s;
}

void addValue(rt::Manifest &m, const Value &v, int producer, std::vector<int> consumers) {
  rt::ValueEntry e;
  static_cast<rt::ValueType &>(e) = valueType(v);
  e.producer = producer;
  e.consumers = std::move(consumers);
  m.consumers[v.name] = e.consumers;
  m.values.emplace_back(v.name, std::move(e));
}

} // namespace

// OpenSSL's, not LLVM's: it uses the CPU's SHA extensions, 0.04 s for GPT-2's
// 45 MB where llvm::SHA256 took 0.2 s.
std::string ppc::sha256File(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return "";
  llvm::StringRef bytes = (*buffer)->getBuffer();
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (!EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr))
    return "";
  return llvm::toHex(llvm::ArrayRef<uint8_t>(digest, size), /*LowerCase=*/true);
}

rt::Manifest ppc::buildManifest(const Model &model, const Graph &g,
                                const std::string &sourceSha256) {
  rt::Manifest m;
  m.source = {fs::path(model.path()).filename().string(),
              sourceSha256.empty() ? sha256File(model.path()) : sourceSha256,
              model.parameterCount()};
  for (const SplitPoint &s : g.splits)
    m.splits.push_back(s.str());
  for (const Value *v : g.inputs()) {
    rt::ModelInput in;
    static_cast<rt::ValueType &>(in) = valueType(*v);
    in.name = v->name;
    in.rank = in.hasShape ? int(in.shape.size()) : -1;
    m.inputs.push_back(in);
  }
  for (const Value *v : g.outputs())
    m.outputs.push_back({v->name, g.outputStage(*v)});
  std::vector<StageCost> costs = stageCosts(g);
  for (int k = 0; k < g.numStages; ++k)
    m.stages.push_back(stageSpec(g, costs, k));
  for (const CrossStageValue &c : g.crossStage)
    addValue(m, *c.value, c.producer, c.consumers);
  for (const Value *out : g.outputs())
    if (!m.value(out->name))
      addValue(m, *out, g.outputStage(*out), {});
  for (const Tie &t : g.ties)
    m.tied.push_back({t.parameters, t.stages});
  return m;
}

std::string ppc::pipelineJson(const Model &model, const Graph &g, const std::string &sourceSha256) {
  return rt::writeManifest(buildManifest(model, g, sourceSha256));
}

void ppc::checkOutputDirectory(const std::string &dir, bool force) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    return;
  if (!fs::is_directory(dir, ec))
    throw CompileError("output '" + dir + "' exists and is not a directory",
                       "choose another -o path");
  if (!fs::is_empty(dir, ec) && !force)
    throw CompileError("output directory '" + dir + "' is not empty",
                       "pass --force to replace it, or choose another -o path");
}

static std::string temporarySibling(const fs::path &dir) {
  std::random_device rd;
  fs::path parent = dir.has_parent_path() ? dir.parent_path() : fs::path(".");
  return (parent / ("." + dir.filename().string() + ".tmp-" + std::to_string(rd()))).string();
}

void ppc::emitPipeline(Model &model, const std::string &dir, const EmitOptions &opts) {
  checkOutputDirectory(dir, opts.force);
  fs::path target = fs::path(dir).lexically_normal();
  if (target.filename().empty())
    target = target.parent_path();
  std::string tmp = temporarySibling(target);
  fs::create_directories(tmp);
  try {
    Graph &g = model.graph();
    for (int k = 0; k < g.numStages; ++k)
      saveStageModule(model, k, tmp + "/stage" + std::to_string(k) + ".pt");
    std::ofstream(tmp + "/pipeline.json") << pipelineJson(model, g, opts.sourceSha256);
    for (const auto &[name, content] : opts.extraFiles)
      std::ofstream(tmp + "/" + name) << content;
    if (fs::exists(target)) {
      std::string old = temporarySibling(target);
      fs::rename(target, old);
      fs::rename(tmp, target);
      fs::remove_all(old);
    } else {
      fs::rename(tmp, target);
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}
