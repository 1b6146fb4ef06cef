//===- codegen/Codegen.h - Stage modules and pipeline.json ------*- C++ -*-===//
//
// Emits a partitioned model as the output directory of design §3: one
// TorchScript module per stage holding only its own parameters under their
// original qualified names, and pipeline.json. The directory is written
// atomically (a temporary sibling renamed into place); a non-empty existing
// directory is refused unless `force`.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_CODEGEN_CODEGEN_H
#define PPC_CODEGEN_CODEGEN_H

#include "runtime/Manifest.h"

#include <map>
#include <string>

namespace ppc {

class Graph;
class Model;

struct EmitOptions {
  bool force = false;
  /// The model file's SHA-256 (hex) for pipeline.json; computed when empty.
  std::string sourceSha256;
  /// More files to write into the directory (name -> content).
  std::map<std::string, std::string> extraFiles;
};

/// Throws CompileError if `dir` exists, is not empty, and `force` is off.
void checkOutputDirectory(const std::string &dir, bool force);

/// Writes DIR/stage<k>.pt for every stage and DIR/pipeline.json.
void emitPipeline(Model &model, const std::string &dir, const EmitOptions &opts);

/// Saves stage `k` of the partitioned model as a TorchScript archive.
void saveStageModule(Model &model, int stage, const std::string &file);

/// The manifest of the partitioned graph (the one place that fills it).
rt::Manifest buildManifest(const Model &model, const Graph &g,
                           const std::string &sourceSha256 = "");

/// SHA-256 of a file's bytes, lower-case hex ("" if it cannot be read).
std::string sha256File(const std::string &path);

/// The pipeline.json text for the partitioned graph.
std::string pipelineJson(const Model &model, const Graph &g, const std::string &sourceSha256 = "");

} // namespace ppc

#endif
