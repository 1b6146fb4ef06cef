//===- ir/Diagnostics.h - Errors reported to the user -----------*- C++ -*-===//
//
// A CompileError is a diagnostic about the user's input (a bad split, an
// unsupported model), thrown by any layer and printed by the tools as one or
// two lines without a backtrace. `hint` says how to fix it.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_IR_DIAGNOSTICS_H
#define PPC_IR_DIAGNOSTICS_H

#include <stdexcept>
#include <string>

namespace ppc {

class CompileError : public std::runtime_error {
public:
  explicit CompileError(const std::string &message, std::string hint = "")
      : std::runtime_error(message), hint(std::move(hint)) {}
  std::string hint;
};

} // namespace ppc

#endif
