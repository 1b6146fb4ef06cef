//===- frontend/Frontend.h - TorchScript archive to ppc IR ------*- C++ -*-===//
//
// Loads a TorchScript archive (scripted or traced), inlines its forward one
// call level at a time so that every op keeps its exact module path, and
// lowers the result into the ppc IR. The Model owns the LibTorch module and
// the inlined graph that the IR's op handles point into; this header is
// LibTorch-free so that passes and tools need not include torch.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_FRONTEND_FRONTEND_H
#define PPC_FRONTEND_FRONTEND_H

#include "ir/Graph.h"

#include <memory>
#include <string>

namespace ppc {

struct ModelImpl;

class Model {
public:
  /// Loads and lowers `path`; throws CompileError on a missing, corrupt or
  /// non-TorchScript file and on models the IR cannot represent.
  static std::unique_ptr<Model> load(const std::string &path);
  ~Model();

  Graph &graph();
  const std::string &path() const;
  /// Parameter element count, counting storage shared by several names once.
  int64_t parameterCount() const;
  /// Pairs of untied parameters whose values are equal (a tie the export
  /// broke, e.g. HF's torchscript=True clones lm_head from wte).
  std::vector<std::pair<std::string, std::string>> equalUntiedParameters() const;
  /// Records a tie `a=b` given by the user (CompileError if unknown or of a
  /// different shape).
  void addTie(const std::string &a, const std::string &b);
  /// Runs the model once on the inputs in `ioFile` (torch.save of
  /// {"inputs": tuple} or a tuple) and records dtype and shape of every IR
  /// value.
  void annotateShapes(const std::string &ioFile);

  ModelImpl &impl() { return *p; }

private:
  Model();
  std::unique_ptr<ModelImpl> p;
};

} // namespace ppc

#endif
