//===- passes/AssignParameters.cpp - Parameter ownership ------------------===//
//
// Reads parameter uses off the IR: a Param value's users' stages are its
// holders. Only names the model lists as parameters or buffers are stage
// parameters; other attributes (ints, strings) are copied but not listed.
//
//===----------------------------------------------------------------------===//
#include "passes/AssignParameters.h"

#include "ir/Diagnostics.h"

#include <algorithm>
#include <map>
#include <set>

using namespace ppc;

static std::set<int> holderStages(const Graph &g, const Value &param) {
  std::set<int> stages;
  for (const Op *user : param.users)
    stages.insert(user->stage);
  if (param.isModelOutput)
    stages.insert(g.numStages - 1);
  return stages;
}

static void refuseSharedWrites(const Graph &g, const Value &param, const std::set<int> &holders) {
  if (holders.size() < 2)
    return;
  for (const Op *user : param.users)
    for (unsigned i : user->writtenInputs)
      if (user->inputs[i] == &param)
        throw CompileError("'" + user->kind + "' in module '" + user->path + "' (stage " +
                               std::to_string(user->stage) + ") writes '" + param.name +
                               "', which other stages also read",
                           "split so that every reader of '" + param.name + "' is in one stage");
}

static bool isInTie(const Graph &g, const std::string &name) {
  for (const Tie &tie : g.ties)
    if (std::find(tie.parameters.begin(), tie.parameters.end(), name) != tie.parameters.end())
      return true;
  return false;
}

// A parameter read by several stages is copied into each of them; each copy
// gets only its own stage's share of the gradient, so the copies form a tie
// group of one name whose gradients the runtime sums, exactly as for names
// sharing storage. Buffers take no gradient and need no group.
static void tieSharedParameters(Graph &g,
                                const std::map<std::string, std::set<int>> &holdersByName) {
  for (const ParamInfo &info : g.params) {
    auto it = holdersByName.find(info.name);
    if (!info.isParameter || it == holdersByName.end() || it->second.size() < 2 ||
        isInTie(g, info.name))
      continue;
    g.ties.push_back({{info.name}, {}});
  }
}

unsigned ppc::assignParameters(Graph &g) {
  std::map<std::string, std::set<int>> holdersByName;
  for (const ParamInfo &info : g.params) {
    const Value *v = g.findParam(info.name);
    if (!v)
      continue;
    std::set<int> holders = holderStages(g, *v);
    refuseSharedWrites(g, *v, holders);
    holdersByName[info.name] = holders;
    for (int s : holders)
      g.stageInterfaces[s].parameters.push_back(info.name);
  }
  unsigned shared = 0;
  for (auto &[name, holders] : holdersByName)
    shared += holders.size() > 1;
  tieSharedParameters(g, holdersByName);
  for (Tie &tie : g.ties) {
    std::set<int> stages;
    for (const std::string &name : tie.parameters)
      stages.insert(holdersByName[name].begin(), holdersByName[name].end());
    tie.stages.assign(stages.begin(), stages.end());
  }
  return shared;
}
