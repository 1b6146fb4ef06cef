//===- ir/Printer.h - Text form of the ppc IR -------------------*- C++ -*-===//
//
// Prints a Graph as text, one op a line with its module path, grouped by
// stage once the graph is partitioned, followed by the cross-stage values.
// The text parses back with ir/Parser.h, so passes can be tested on IR text.
//
//   graph(%x : Tensor) {
//     modules a, a.b
//     param $a.weight : Tensor:float32[4,4]
//     const #c0 : int = 1
//   stage 0:
//     %v0 : Tensor = aten::linear(%x, $a.weight, #c0) @a
//     return (%v0)
//   }
//
//===----------------------------------------------------------------------===//
#ifndef PPC_IR_PRINTER_H
#define PPC_IR_PRINTER_H

#include "ir/Graph.h"

#include "llvm/Support/raw_ostream.h"

namespace ppc {

struct PrintOptions {
  bool modules = true;      // the `modules` line
  bool declarations = true; // param and const lines
  bool crossStage = true;   // the cross-stage value table
  /// Each stage's inputs and outputs, as a comment on its header line.
  bool interfaces = false;
};

void printGraph(const Graph &g, llvm::raw_ostream &os, const PrintOptions &opts = {});
std::string graphToString(const Graph &g, const PrintOptions &opts = {});

/// `%v3`, `$a.weight`, `#c0`: a value reference as it appears in the text.
std::string valueRef(const Value &v);
/// `Tensor:float32[2,16]` or `int`.
std::string typeText(const Value &v);

} // namespace ppc

#endif
