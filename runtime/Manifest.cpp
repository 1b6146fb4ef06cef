//===- runtime/Manifest.cpp - pipeline.json as the runtime reads it -------===//
#include "runtime/Manifest.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <stdexcept>

using namespace ppc::rt;
using nlohmann::json;

static StageSpec readStage(const json &j) {
  StageSpec s;
  s.index = j.at("index");
  s.file = j.at("file");
  for (const json &in : j.at("inputs"))
    s.inputs.push_back({in.at("value"), in.at("from").is_string() ? -1 : in.at("from").get<int>()});
  for (const json &out : j.at("outputs"))
    s.outputs.push_back(out);
  if (j.contains("parameters"))
    s.parameters = j.at("parameters").get<std::vector<std::string>>();
  return s;
}

Manifest ppc::rt::readManifest(const std::string &dir) {
  std::ifstream file(dir + "/pipeline.json");
  if (!file)
    throw std::runtime_error("'" + dir +
                             "' has no pipeline.json; compile the model with ppc first");
  Manifest m;
  m.dir = dir;
  try {
    json j = json::parse(file);
    if (j.value("format", "") != "ppc.pipeline/1")
      throw std::runtime_error("unsupported format '" + j.value("format", "") + "'");
    for (const json &in : j.at("inputs")) {
      ModelInput mi{in.at("name"), in.value("type", "Tensor"), in.value("dtype", ""), -1};
      if (in.contains("shape"))
        mi.rank = int(in.at("shape").size());
      m.inputs.push_back(mi);
    }
    for (const json &out : j.at("outputs"))
      m.outputs.push_back({out.at("value"), out.at("stage")});
    for (const json &st : j.at("stages"))
      m.stages.push_back(readStage(st));
    for (auto &[name, info] : j.at("values").items())
      m.consumers[name] = info.at("consumers").get<std::vector<int>>();
    for (const json &t : j.value("tied", json::array()))
      m.tied.push_back({t.at("parameters"), t.at("stages")});
  } catch (const json::exception &e) {
    throw std::runtime_error("'" + dir + "/pipeline.json' is malformed: " + e.what());
  }
  for (size_t k = 0; k < m.stages.size(); ++k)
    if (m.stages[k].index != int(k))
      throw std::runtime_error("pipeline.json lists stage " + std::to_string(m.stages[k].index) +
                               " in position " + std::to_string(k));
  return m;
}
