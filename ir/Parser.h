//===- ir/Parser.h - Reads the text form of the ppc IR ----------*- C++ -*-===//
//
// Parses the text that ir/Printer.h writes back into a Graph, so that passes
// can be unit-tested on IR text. Ops parsed from text carry no LibTorch
// handle. The cross-stage value table is derived data and is skipped.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_IR_PARSER_H
#define PPC_IR_PARSER_H

#include "ir/Graph.h"

#include <memory>
#include <string>

namespace ppc {

/// Returns the graph, or null with `error` set to "line N: what is wrong".
std::unique_ptr<Graph> parseGraph(llvm::StringRef text, std::string &error);

} // namespace ppc

#endif
