//===- runtime/Manifest.h - The pipeline.json schema ------------*- C++ -*-===//
//
// The one description of a compiled directory's pipeline.json (format
// ppc.pipeline/1, design §3), with its one reader and one writer: codegen
// fills a Manifest from the partitioned IR and writes it; pprun, `ppc verify`,
// `ppc merge` and `ppc inspect` read it back. Reading fails with a one-line
// reason for missing or malformed files. LibTorch-free, so the compiler and
// the runtime share it without sharing anything else.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_MANIFEST_H
#define PPC_RUNTIME_MANIFEST_H

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ppc::rt {

inline constexpr const char *kManifestFormat = "ppc.pipeline/1";

/// What pipeline.json records of a value's type.
struct ValueType {
  std::string type = "Tensor";
  std::string dtype; // "" when unknown
  std::vector<int64_t> shape;
  bool hasShape = false;
};

struct StageInput {
  std::string value;
  int from = -1; // producer stage, -1 for a model input
};

struct StageCost {
  double timeMs = 0;
  double flops = 0;
  int64_t paramBytes = 0;
  int64_t activationBytes = 0;
  double backwardMs = 0;   // measured (ppc --for train); 0: not known
  int64_t memoryBytes = 0; // the planner's predicted peak; 0: not planned
};

struct StageSpec {
  int index = 0;
  std::string file;
  std::vector<StageInput> inputs;
  std::vector<std::string> outputs;
  std::vector<std::string> parameters;
  /// The outermost modules whose ops all lie in this stage.
  std::vector<std::string> modules;
  StageCost cost;
  /// Training re-runs the forward before the backward instead of keeping
  /// the activations (only the inputs are kept between the two).
  bool recompute = false;
};

struct ModelInput : ValueType {
  std::string name;
  int rank = -1; // number of dims, -1 when unknown
};

struct ModelOutput {
  std::string value;
  int stage = 0;
};

/// An entry of the `values` table: a cross-stage value or a model output.
struct ValueEntry : ValueType {
  int producer = -1; // -1 for a model input
  std::vector<int> consumers;
};

struct TiedGroup {
  std::vector<std::string> parameters;
  std::vector<int> stages;
};

struct SourceInfo {
  std::string file;
  std::string sha256;
  int64_t parameters = 0;
};

struct Manifest {
  std::string dir; // where it was read from ("" for one being written)
  SourceInfo source;
  std::vector<std::string> splits;
  std::vector<ModelInput> inputs;
  std::vector<ModelOutput> outputs;
  std::vector<StageSpec> stages;
  /// The values table in file order.
  std::vector<std::pair<std::string, ValueEntry>> values;
  /// Consumer stages of every value in `values` (derived on reading).
  std::map<std::string, std::vector<int>> consumers;
  std::vector<TiedGroup> tied;

  int numStages() const { return int(stages.size()); }
  /// The values-table entry of `name`, or null.
  const ValueEntry *value(const std::string &name) const;
};

/// The rank that holds `stage` when `worldSize` ranks share the stages
/// round-robin (design §4: rank r holds stages r, r+N, ...).
inline int rankOfStage(int stage, int worldSize) { return stage % worldSize; }

/// Reads DIR/pipeline.json; throws std::runtime_error with a one-line reason.
Manifest readManifest(const std::string &dir);

/// Parses pipeline.json text; `where` names it in errors.
Manifest parseManifest(const std::string &text, const std::string &where);

/// The pipeline.json text of `m`.
std::string writeManifest(const Manifest &m);

} // namespace ppc::rt

#endif
