//===- passes/PlaceSplits.cpp - Stages from `--split PATH:begin|end` ------===//
//
// Resolves each split point to an op index, checks that the points are
// distinct and leave no stage empty, then numbers stages in program order.
//
//===----------------------------------------------------------------------===//
#include "passes/PlaceSplits.h"

#include "ir/Diagnostics.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <map>

using namespace ppc;

std::vector<SplitPoint> ppc::parseSplitSpec(llvm::StringRef spec) {
  std::vector<SplitPoint> points;
  llvm::SmallVector<llvm::StringRef, 4> items;
  spec.split(items, ',', -1, false);
  for (llvm::StringRef item : items) {
    item = item.trim();
    auto [path, where] = item.rsplit(':');
    if (where == item || (where != "begin" && where != "end"))
      throw CompileError("bad split point '" + item.str() + "': expected PATH:begin or PATH:end",
                         "e.g. --split transformer.h.2:begin");
    points.push_back({path.str(), where == "end"});
  }
  return points;
}

static bool isKnownModule(const Graph &g, llvm::StringRef path) {
  if (llvm::is_contained(g.modules, path))
    return true;
  return llvm::any_of(g.ops(), [&](const auto &op) {
    return isWithinModule(op->path, path) ||
           llvm::any_of(op->innerModules,
                        [&](const std::string &m) { return isWithinModule(m, path); });
  });
}

std::vector<std::string> ppc::closestModules(const Graph &g, llvm::StringRef path, size_t count) {
  std::vector<std::pair<unsigned, std::string>> scored;
  for (const std::string &m : g.modules)
    scored.push_back({path.edit_distance(m), m});
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto &a, const auto &b) { return a.first < b.first; });
  std::vector<std::string> names;
  for (size_t i = 0; i < scored.size() && i < count; ++i)
    names.push_back(scored[i].second);
  return names;
}

static const Op *enclosingControlFlow(const Graph &g, llvm::StringRef path) {
  for (const auto &op : g.ops())
    for (const std::string &inner : op->innerModules)
      if (isWithinModule(inner, path) || isWithinModule(path, inner))
        return op.get();
  return nullptr;
}

unsigned ppc::splitPosition(const Graph &g, const SplitPoint &split) {
  if (!isKnownModule(g, split.path)) {
    std::string hint = "closest module paths: " + llvm::join(closestModules(g, split.path), ", ");
    throw CompileError("unknown module path '" + split.path + "' in split " + split.str(), hint);
  }
  int first = -1, last = -1;
  for (const auto &op : g.ops()) {
    if (!isWithinModule(op->path, split.path))
      continue;
    if (first < 0)
      first = op->index;
    last = op->index;
  }
  if (first >= 0)
    return split.atEnd ? last + 1 : first;
  if (const Op *cf = enclosingControlFlow(g, split.path)) {
    std::string where = cf->path.empty() ? "the model's forward" : "module '" + cf->path + "'";
    throw CompileError(
        "split " + split.str() + " is inside control flow (" + cf->kind + " in " + where + ")",
        cf->path.empty() ? "split outside the if/loop"
                         : "split at " + cf->path + ":begin or " + cf->path + ":end instead");
  }
  throw CompileError("module '" + split.path + "' runs no ops in forward, so " + split.str() +
                         " is no place to split",
                     "choose a module that computes something");
}

/// The op indices of the sorted split points; rejects duplicates and empty stages.
static std::vector<unsigned> sortedPositions(const Graph &g) {
  std::map<unsigned, const SplitPoint *> byPosition;
  for (size_t i = 0; i < g.splits.size(); ++i) {
    const SplitPoint &s = g.splits[i];
    for (size_t j = 0; j < i; ++j)
      if (g.splits[j].str() == s.str())
        throw CompileError("split point " + s.str() + " is given twice", "give each point once");
    unsigned pos = splitPosition(g, s);
    auto [it, inserted] = byPosition.insert({pos, &s});
    if (!inserted)
      throw CompileError("split points " + it->second->str() + " and " + s.str() +
                             " are the same point, which would leave a stage without ops",
                         "drop one of them");
  }
  std::vector<unsigned> positions;
  for (auto &[pos, split] : byPosition) {
    if (pos == 0 || pos >= g.ops().size())
      throw CompileError("split " + split->str() + " leaves a stage without ops",
                         "split between modules that compute something");
    positions.push_back(pos);
  }
  return positions;
}

int ppc::placeSplits(Graph &g) {
  std::vector<unsigned> positions = sortedPositions(g);
  for (const auto &op : g.ops())
    op->stage = std::upper_bound(positions.begin(), positions.end(), op->index) - positions.begin();
  g.numStages = positions.size() + 1;
  std::sort(g.splits.begin(), g.splits.end(), [&](const SplitPoint &a, const SplitPoint &b) {
    return splitPosition(g, a) < splitPosition(g, b);
  });
  return g.numStages;
}
