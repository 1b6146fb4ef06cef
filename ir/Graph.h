//===- ir/Graph.h - The ppc dataflow IR ------------------------*- C++ -*-===//
//
// The ppc IR is a straight-line dataflow graph: the top-level ops of a fully
// inlined TorchScript forward, in program order. Ops with sub-blocks
// (prim::If, prim::Loop) are atomic: their bodies stay inside the original
// node and are never split. Every op keeps the exact module path it came
// from. Parameters, buffers and constants are values without a defining op:
// they are cloned into each stage that reads them, never sent. The IR knows
// nothing of LibTorch; an op may carry an opaque handle to the node it was
// lowered from, which only frontend/ and codegen/ interpret.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_IR_GRAPH_H
#define PPC_IR_GRAPH_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ppc {

class Op;

enum class ValueKind {
  Input,    // a model input (forward argument)
  Result,   // produced by an op
  Param,    // a parameter, buffer or other module attribute, by qualified name
  Constant, // a literal, cloned into every stage that uses it
};

/// What is known of a tensor value's shape and element type.
struct TensorInfo {
  std::string dtype;                   // "float32", "int64", ... ("" = unknown)
  llvm::SmallVector<int64_t, 4> shape; // empty with hasShape=false = unknown
  bool hasShape = false;

  int64_t numel() const;
  int64_t elementBytes() const;
  /// Bytes of the tensor, or -1 when dtype or shape is unknown.
  int64_t bytes() const;
};

class Value {
public:
  unsigned id = 0;
  /// Printed name without sigil: "input_ids", "v12", "transformer.wte.weight", "c3".
  std::string name;
  ValueKind kind = ValueKind::Result;
  /// TorchScript type as text: "Tensor", "int", "Tensor[]", "(Tensor, Tensor)".
  std::string type;
  Op *def = nullptr;     // defining op for Result values
  unsigned resultNo = 0; // index among def's results
  /// Constant literal as printed ("1", "None", "\"mean\"", "[1, 2]"), for Constants.
  std::string literal;
  TensorInfo tensor;                // for Tensor-typed values, when known
  llvm::SmallVector<Op *, 4> users; // ops reading this value, in program order, with repeats
  bool isModelOutput = false;
  /// Opaque handle to the value this came from (torch::jit::Value*), if any.
  void *handle = nullptr;

  bool isTensor() const { return type == "Tensor"; }
  /// Values that are cloned into stages rather than sent between them.
  bool isCloned() const { return kind == ValueKind::Param || kind == ValueKind::Constant; }
};

/// Per-op cost annotations (passes/ fills them; 0 = unknown).
struct OpCost {
  double flops = 0;
  double bytes = 0;      // bytes read + written
  double timeMs = 0;     // measured forward
  double backwardMs = 0; // measured backward (--for train); 0 when not measured
  /// The input-gradient part (zero-bubble's I) of backwardMs, the rest being
  /// the weight gradients (W); -1 when not measured.
  double inputGradMs = -1;
  /// Bytes its results keep alive for the backward, as measured; -1 until
  /// measured: then the tensors it creates count.
  double activationBytes = -1;
  /// Of those, what zero-bubble's W still needs after I has run (I frees
  /// what only the input gradients read); -1 until measured: all of them.
  double weightKeptBytes = -1;
};

class Op {
public:
  unsigned index = 0; // position in program order
  std::string kind;   // "aten::linear", "prim::If", ...
  std::string path;   // module path ("transformer.h.0.attn"), "" for the root
  llvm::SmallVector<Value *, 4> inputs;
  /// Per input, the original value (torch::jit::Value*) its slot stands for
  /// in `handle`'s node, kept when a pass redirects the input, so that
  /// codegen maps the node's operands to the values the IR now gives them.
  llvm::SmallVector<void *, 4> operandHandles;
  llvm::SmallVector<Value *, 2> results;
  int stage = -1;         // assigned by split placement
  bool hasBlocks = false; // atomic control flow
  /// Module paths called inside this op's blocks (a split there is refused).
  std::vector<std::string> innerModules;
  /// Indices of inputs this op writes in place (schema alias info `a!`).
  llvm::SmallVector<unsigned, 1> writtenInputs;
  /// For each result, the input it may alias (a view), or -1.
  llvm::SmallVector<int, 2> resultAliases;
  /// Opaque handle to the node this op came from (torch::jit::Node*), or null
  /// for ops created by passes.
  void *handle = nullptr;
  OpCost cost;

  bool writes() const { return !writtenInputs.empty(); }
};

/// A parameter, buffer or non-tensor attribute the model reads.
struct ParamInfo {
  std::string name; // qualified name, "transformer.h.0.ln_1.weight"
  bool isParameter = false;
  bool isBuffer = false;
  TensorInfo tensor;
};

/// A set of parameter names that share one tensor, and the stages holding them.
struct Tie {
  std::vector<std::string> parameters;
  std::vector<int> stages;
};

/// A value defined in one stage (or a model input) and used by later stages.
struct CrossStageValue {
  Value *value = nullptr;
  int producer = -1;          // stage that defines it; -1 for a model input
  std::vector<int> consumers; // stages that read it, ascending
  /// Consumed by a stage other than producer + 1: sent straight there.
  bool isSkip() const;
};

/// What crosses into and out of one stage, in a fixed order.
struct StageInterface {
  std::vector<Value *> inputs;  // model inputs first, then in program order
  std::vector<Value *> outputs; // in program order
  /// Qualified names of the parameters and buffers the stage reads.
  std::vector<std::string> parameters;
};

/// A split point `path:begin` or `path:end`.
struct SplitPoint {
  std::string path;
  bool atEnd = false;
  std::string str() const { return path + (atEnd ? ":end" : ":begin"); }
};

class Graph {
public:
  Graph() = default;
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;

  // Construction.
  Value *addInput(llvm::StringRef name, llvm::StringRef type);
  Value *addParam(llvm::StringRef qualifiedName, llvm::StringRef type);
  Value *addConstant(llvm::StringRef type, llvm::StringRef literal);
  /// Appends an op at the end of program order.
  Op *addOp(llvm::StringRef kind, llvm::StringRef path, llvm::ArrayRef<Value *> inputs,
            llvm::ArrayRef<std::string> resultTypes);
  /// Inserts a new op before `before` (renumbers op indices).
  Op *insertOpBefore(Op *before, llvm::StringRef kind, llvm::StringRef path,
                     llvm::ArrayRef<Value *> inputs, llvm::ArrayRef<std::string> resultTypes);
  void addOutput(Value *v);
  /// Gives `v` a new unique name (used by the parser); false if taken.
  bool renameValue(Value *v, llvm::StringRef name);
  /// Replaces input `inputNo` of `op` by `v`, keeping use lists right.
  void setOpInput(Op *op, unsigned inputNo, Value *v);
  /// Makes every reader of `from`, and the model outputs, read `to` instead.
  void replaceAllUsesWith(Value *from, Value *to);
  /// Moves `op` to just after `after` in program order (to the front when
  /// `after` is null); the caller keeps operands defined before their uses.
  void moveOpAfter(Op *op, Op *after);
  /// Removes ops whose results are all unused and that write nothing.
  unsigned removeDeadOps();
  void renumber();

  // Queries.
  llvm::ArrayRef<std::unique_ptr<Op>> ops() const { return opList; }
  llvm::ArrayRef<std::unique_ptr<Value>> values() const { return valueList; }
  llvm::ArrayRef<Value *> inputs() const { return inputList; }
  llvm::ArrayRef<Value *> outputs() const { return outputList; }
  Value *lookup(llvm::StringRef name) const;
  Value *findParam(llvm::StringRef qualifiedName) const;

  /// Module paths of the model (named_modules() order, without the root "").
  std::vector<std::string> modules;
  /// Parameters and buffers of the model, by qualified name.
  std::vector<ParamInfo> params;
  std::vector<Tie> ties;
  std::vector<SplitPoint> splits;
  int numStages = 0; // 0 = not partitioned
  /// Per stage, whether pprun re-runs its forward before its backward
  /// instead of keeping its activations (set by the planner; not in the text).
  std::vector<bool> recompute;
  bool recomputes(int stage) const {
    return stage >= 0 && stage < int(recompute.size()) && recompute[stage];
  }
  /// Per stage, the planner's predicted peak memory in bytes (parameters,
  /// gradients, optimizer state, activations in flight); empty when not planned.
  std::vector<double> stageMemoryBytes;
  /// Filled by the cross-stage value analysis, in order of definition.
  std::vector<CrossStageValue> crossStage;
  /// Filled by the same analysis: stage k's inputs and outputs.
  std::vector<StageInterface> stageInterfaces;
  /// The stage of value `v`'s producer: its op's stage, -1 for a model input
  /// or a cloned value.
  int producerStage(const Value &v) const;
  /// The stage that returns model output `v`: its producer's, or the last
  /// stage for an output that is a model input, parameter or constant.
  int outputStage(const Value &v) const;

  const ParamInfo *paramInfo(llvm::StringRef name) const;

  /// Checks the IR's structural invariants (ir/Verifier.cpp); returns "" when
  /// they hold, else what is broken. A failure is a compiler bug.
  std::string verify() const;

private:
  Value *newValue(ValueKind kind, llvm::StringRef name, llvm::StringRef type);
  std::string freshName(llvm::StringRef prefix);

  std::vector<std::unique_ptr<Op>> opList;
  std::vector<std::unique_ptr<Value>> valueList;
  llvm::SmallVector<Value *, 4> inputList;
  llvm::SmallVector<Value *, 4> outputList;
  llvm::StringMap<Value *> byName;
  unsigned nextResult = 0;
  unsigned nextConstant = 0;
};

/// True when `path` is `module` or lies inside it ("a.b" is inside "a", not "ab").
bool isWithinModule(llvm::StringRef path, llvm::StringRef module);

} // namespace ppc

#endif
