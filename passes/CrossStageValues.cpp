//===- passes/CrossStageValues.cpp - Values that cross stages -------------===//
//
// One sweep over values in definition order: a value's consumer stages are
// the stages of its users other than its producer's, plus the stage that
// returns it when it is a model output.
//
//===----------------------------------------------------------------------===//
#include "passes/CrossStageValues.h"

#include <set>

using namespace ppc;

static std::set<int> consumerStages(const Graph &g, const Value &v) {
  int producer = g.producerStage(v);
  std::set<int> stages;
  for (const Op *user : v.users)
    if (user->stage != producer)
      stages.insert(user->stage);
  if (v.isModelOutput && g.outputStage(v) != producer)
    stages.insert(g.outputStage(v));
  return stages;
}

unsigned ppc::findCrossStageValues(Graph &g) {
  g.crossStage.clear();
  g.stageInterfaces.assign(g.numStages, {});
  auto addOutputOnce = [&](int stage, Value *v) {
    auto &outs = g.stageInterfaces[stage].outputs;
    if (!llvm::is_contained(outs, v))
      outs.push_back(v);
  };
  // Model inputs first, so every stage lists them before other values.
  std::vector<Value *> order(g.inputs().begin(), g.inputs().end());
  for (const auto &op : g.ops())
    order.insert(order.end(), op->results.begin(), op->results.end());
  for (Value *v : order) {
    std::set<int> consumers = consumerStages(g, *v);
    if (consumers.empty())
      continue;
    int producer = g.producerStage(*v);
    g.crossStage.push_back({v, producer, {consumers.begin(), consumers.end()}});
    if (producer >= 0)
      addOutputOnce(producer, v);
    for (int c : consumers)
      g.stageInterfaces[c].inputs.push_back(v);
  }
  // Outputs that are not results of an op are returned by the last stage.
  for (Value *out : g.outputs())
    addOutputOnce(g.outputStage(*out), out);
  return g.crossStage.size();
}
