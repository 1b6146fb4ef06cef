//===- codegen/PipelineWriter.cpp - The output directory and manifest ----===//
//
// Writes pipeline.json (format ppc.pipeline/1, design §3) from the
// partitioned IR and saves every stage into a temporary sibling directory,
// which is renamed into place only when everything succeeded, so a failed
// compile leaves no partial output.
//
//===----------------------------------------------------------------------===//
#include "codegen/Codegen.h"

#include "frontend/Frontend.h"
#include "ir/Diagnostics.h"
#include "passes/Partitioner.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SHA256.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

using namespace ppc;
using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

std::string sha256File(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return "";
  auto digest = llvm::SHA256::hash(llvm::arrayRefFromStringRef((*buffer)->getBuffer()));
  return llvm::toHex(digest, /*LowerCase=*/true);
}

json valueInfo(const Value &v) {
  json info = {{"type", v.type}};
  if (!v.tensor.dtype.empty())
    info["dtype"] = v.tensor.dtype;
  if (v.tensor.hasShape)
    info["shape"] = std::vector<int64_t>(v.tensor.shape.begin(), v.tensor.shape.end());
  return info;
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

json stageCost(const Graph &g, const StageCost &cost, int stage) {
  double timeMs = 0, flops = 0;
  for (const auto &op : g.ops()) {
    if (op->stage != stage)
      continue;
    timeMs += op->cost.timeMs;
    flops += op->cost.flops;
  }
  auto paramBytes = int64_t(cost.paramBytes), activationBytes = int64_t(cost.activationBytes);
  return {{"time_ms", timeMs},
          {"flops", flops},
          {"param_bytes", paramBytes},
          {"activation_bytes", activationBytes}};
}

json stageEntry(const Graph &g, const std::vector<StageCost> &costs, int k) {
  const StageInterface &io = g.stageInterfaces[k];
  json inputs = json::array();
  for (const Value *v : io.inputs) {
    int from = g.producerStage(*v);
    inputs.push_back({{"value", v->name}, {"from", from < 0 ? json("input") : json(from)}});
  }
  json outputs = json::array();
  for (const Value *v : io.outputs)
    outputs.push_back(v->name);
  return {{"index", k},
          {"file", "stage" + std::to_string(k) + ".pt"},
          {"inputs", inputs},
          {"outputs", outputs},
          {"parameters", io.parameters},
          {"modules", stageModules(g, k)},
          {"cost", stageCost(g, costs[k], k)}};
}

json valuesTable(const Graph &g) {
  json values = json::object();
  for (const CrossStageValue &c : g.crossStage) {
    json info = valueInfo(*c.value);
    info["producer"] = c.producer < 0 ? json("input") : json(c.producer);
    info["consumers"] = c.consumers;
    values[c.value->name] = info;
  }
  for (const Value *out : g.outputs())
    if (!values.contains(out->name)) {
      json info = valueInfo(*out);
      info["producer"] = g.outputStage(*out);
      info["consumers"] = json::array();
      values[out->name] = info;
    }
  return values;
}

} // namespace

std::string ppc::pipelineJson(const Model &model, const Graph &g) {
  json inputs = json::array();
  for (const Value *v : g.inputs()) {
    json in = valueInfo(*v);
    in["name"] = v->name;
    inputs.push_back(in);
  }
  json outputs = json::array();
  for (const Value *v : g.outputs())
    outputs.push_back({{"value", v->name}, {"stage", g.outputStage(*v)}});
  json stages = json::array();
  std::vector<StageCost> costs = stageCosts(g);
  for (int k = 0; k < g.numStages; ++k)
    stages.push_back(stageEntry(g, costs, k));
  json tied = json::array();
  for (const Tie &t : g.ties)
    tied.push_back({{"parameters", t.parameters}, {"stages", t.stages}});
  json splits = json::array();
  for (const SplitPoint &s : g.splits)
    splits.push_back(s.str());
  json doc = {{"format", "ppc.pipeline/1"},
              {"source",
               {{"file", fs::path(model.path()).filename().string()},
                {"sha256", sha256File(model.path())},
                {"parameters", model.parameterCount()}}},
              {"splits", splits},
              {"inputs", inputs},
              {"outputs", outputs},
              {"stages", stages},
              {"values", valuesTable(g)},
              {"tied", tied}};
  return doc.dump(1) + "\n";
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
    std::ofstream(tmp + "/pipeline.json") << pipelineJson(model, g);
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
