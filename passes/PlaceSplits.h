//===- passes/PlaceSplits.h - Stages from `--split PATH:begin|end` -*- C++ -*-===//
//
// Places the user's split points and assigns every op its stage. `PATH:begin`
// splits before the first op of module PATH and `PATH:end` after its last
// op; stages are numbered in program order. Refuses (CompileError) an
// unknown path (naming the closest ones), a point given twice or two points
// that coincide, a point inside control flow (naming the enclosing module),
// and any stage left without ops. Needs op paths and Graph::modules.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_PASSES_PLACESPLITS_H
#define PPC_PASSES_PLACESPLITS_H

#include "ir/Graph.h"

namespace ppc {

/// Parses "a.b:begin,c:end" into split points (CompileError on a bad word).
std::vector<SplitPoint> parseSplitSpec(llvm::StringRef spec);

/// The op index a split point cuts before (CompileError when it cannot).
unsigned splitPosition(const Graph &g, const SplitPoint &split);

/// Assigns op stages from g.splits; returns the number of stages.
int placeSplits(Graph &g);

/// Up to `count` module paths closest to `path` by edit distance.
std::vector<std::string> closestModules(const Graph &g, llvm::StringRef path, size_t count = 3);

} // namespace ppc

#endif
