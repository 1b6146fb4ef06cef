//===- runtime/Manifest.h - pipeline.json as the runtime reads it -*- C++ -*-===//
//
// The parts of a compiled directory's pipeline.json (format ppc.pipeline/1)
// that the runtime needs: model inputs and outputs, each stage's file,
// inputs (with their producer) and outputs, the consumers of every value, and
// tied parameter groups. Read with clear errors for missing or malformed
// files. LibTorch-free.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_MANIFEST_H
#define PPC_RUNTIME_MANIFEST_H

#include <map>
#include <string>
#include <vector>

namespace ppc::rt {

struct StageInput {
  std::string value;
  int from = -1; // producer stage, -1 for a model input
};

struct StageSpec {
  int index = 0;
  std::string file;
  std::vector<StageInput> inputs;
  std::vector<std::string> outputs;
  std::vector<std::string> parameters;
};

struct ModelInput {
  std::string name;
  std::string type;
  std::string dtype; // "" when unknown
  int rank = -1;     // number of dims, -1 when unknown
};

struct ModelOutput {
  std::string value;
  int stage = 0;
};

struct TiedGroup {
  std::vector<std::string> parameters;
  std::vector<int> stages;
};

struct Manifest {
  std::string dir;
  std::vector<ModelInput> inputs;
  std::vector<ModelOutput> outputs;
  std::vector<StageSpec> stages;
  /// Consumer stages of every cross-stage value.
  std::map<std::string, std::vector<int>> consumers;
  std::vector<TiedGroup> tied;

  int numStages() const { return int(stages.size()); }
};

/// Reads DIR/pipeline.json; throws std::runtime_error with a one-line reason.
Manifest readManifest(const std::string &dir);

} // namespace ppc::rt

#endif
