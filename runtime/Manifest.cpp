//===- runtime/Manifest.cpp - The pipeline.json schema --------------------===//
//
// Reader and writer of pipeline.json. The writer keeps the key order of
// design §3; the reader accepts what the writer writes, and tolerates the
// optional keys (`modules`, `cost`, `splits`, `source`, a stage's
// `recompute`) being absent. `recompute` is written only where it is true,
// so the files of pipelines that recompute nothing stay as they were.
//
//===----------------------------------------------------------------------===//
#include "runtime/Manifest.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>
#include <stdexcept>

using namespace ppc::rt;
using json = nlohmann::ordered_json;

const ValueEntry *Manifest::value(const std::string &name) const {
  for (const auto &[n, v] : values)
    if (n == name)
      return &v;
  return nullptr;
}

namespace {

/// "input" in the file for a model input, else the stage index.
int readStageRef(const json &j) { return j.is_string() ? -1 : j.get<int>(); }
json writeStageRef(int stage) { return stage < 0 ? json("input") : json(stage); }

void readType(const json &j, ValueType &t) {
  t.type = j.value("type", "Tensor");
  t.dtype = j.value("dtype", "");
  t.hasShape = j.contains("shape");
  if (t.hasShape)
    t.shape = j.at("shape").get<std::vector<int64_t>>();
}

json writeType(const ValueType &t) {
  json j = {{"type", t.type}};
  if (!t.dtype.empty())
    j["dtype"] = t.dtype;
  if (t.hasShape)
    j["shape"] = t.shape;
  return j;
}

StageSpec readStage(const json &j) {
  StageSpec s;
  s.index = j.at("index");
  s.file = j.at("file");
  for (const json &in : j.at("inputs"))
    s.inputs.push_back({in.at("value"), readStageRef(in.at("from"))});
  s.outputs = j.at("outputs").get<std::vector<std::string>>();
  s.parameters = j.value("parameters", std::vector<std::string>{});
  s.modules = j.value("modules", std::vector<std::string>{});
  if (j.contains("cost")) {
    const json &c = j.at("cost");
    s.cost = {c.value("time_ms", 0.0),
              c.value("flops", 0.0),
              c.value("param_bytes", int64_t(0)),
              c.value("activation_bytes", int64_t(0)),
              c.value("backward_ms", 0.0),
              c.value("memory_bytes", int64_t(0))};
  }
  s.recompute = j.value("recompute", false);
  return s;
}

json writeStage(const StageSpec &s) {
  json inputs = json::array();
  for (const StageInput &in : s.inputs)
    inputs.push_back({{"value", in.value}, {"from", writeStageRef(in.from)}});
  json j = {{"index", s.index},
            {"file", s.file},
            {"inputs", inputs},
            {"outputs", s.outputs},
            {"parameters", s.parameters},
            {"modules", s.modules},
            {"cost",
             {{"time_ms", s.cost.timeMs},
              {"flops", s.cost.flops},
              {"param_bytes", s.cost.paramBytes},
              {"activation_bytes", s.cost.activationBytes}}}};
  if (s.cost.backwardMs > 0)
    j["cost"]["backward_ms"] = s.cost.backwardMs;
  if (s.cost.memoryBytes > 0)
    j["cost"]["memory_bytes"] = s.cost.memoryBytes;
  if (s.recompute)
    j["recompute"] = true;
  return j;
}

void readDocument(const json &j, Manifest &m) {
  if (j.value("format", "") != kManifestFormat)
    throw std::runtime_error("unsupported format '" + j.value("format", "") + "'");
  if (j.contains("source")) {
    const json &s = j.at("source");
    m.source = {s.value("file", ""), s.value("sha256", ""), s.value("parameters", int64_t(0))};
  }
  m.splits = j.value("splits", std::vector<std::string>{});
  for (const json &in : j.at("inputs")) {
    ModelInput mi;
    readType(in, mi);
    mi.name = in.at("name");
    mi.rank = mi.hasShape ? int(mi.shape.size()) : -1;
    m.inputs.push_back(mi);
  }
  for (const json &out : j.at("outputs"))
    m.outputs.push_back({out.at("value"), out.at("stage")});
  for (const json &st : j.at("stages"))
    m.stages.push_back(readStage(st));
  for (const auto &[name, info] : j.at("values").items()) {
    ValueEntry v;
    readType(info, v);
    v.producer = info.contains("producer") ? readStageRef(info.at("producer")) : -1;
    v.consumers = info.at("consumers").get<std::vector<int>>();
    m.consumers[name] = v.consumers;
    m.values.emplace_back(name, std::move(v));
  }
  for (const json &t : j.value("tied", json::array()))
    m.tied.push_back({t.at("parameters"), t.at("stages")});
}

} // namespace

Manifest ppc::rt::parseManifest(const std::string &text, const std::string &where) {
  Manifest m;
  try {
    readDocument(json::parse(text), m);
  } catch (const json::exception &e) {
    throw std::runtime_error("'" + where + "' is malformed: " + e.what());
  }
  for (size_t k = 0; k < m.stages.size(); ++k)
    if (m.stages[k].index != int(k))
      throw std::runtime_error("pipeline.json lists stage " + std::to_string(m.stages[k].index) +
                               " in position " + std::to_string(k));
  return m;
}

Manifest ppc::rt::readManifest(const std::string &dir) {
  std::ifstream file(dir + "/pipeline.json");
  if (!file)
    throw std::runtime_error("'" + dir +
                             "' has no pipeline.json; compile the model with ppc first");
  std::stringstream text;
  text << file.rdbuf();
  Manifest m = parseManifest(text.str(), dir + "/pipeline.json");
  m.dir = dir;
  return m;
}

std::string ppc::rt::writeManifest(const Manifest &m) {
  json inputs = json::array();
  for (const ModelInput &in : m.inputs) {
    json j = writeType(in);
    j["name"] = in.name;
    inputs.push_back(j);
  }
  json outputs = json::array();
  for (const ModelOutput &o : m.outputs)
    outputs.push_back({{"value", o.value}, {"stage", o.stage}});
  json stages = json::array();
  for (const StageSpec &s : m.stages)
    stages.push_back(writeStage(s));
  json values = json::object();
  for (const auto &[name, v] : m.values) {
    json j = writeType(v);
    j["producer"] = writeStageRef(v.producer);
    j["consumers"] = v.consumers;
    values[name] = j;
  }
  json tied = json::array();
  for (const TiedGroup &t : m.tied)
    tied.push_back({{"parameters", t.parameters}, {"stages", t.stages}});
  json doc = {
      {"format", kManifestFormat},
      {"source",
       {{"file", m.source.file}, {"sha256", m.source.sha256}, {"parameters", m.source.parameters}}},
      {"splits", m.splits},
      {"inputs", inputs},
      {"outputs", outputs},
      {"stages", stages},
      {"values", values},
      {"tied", tied}};
  return doc.dump(1) + "\n";
}
