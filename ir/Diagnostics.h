//===- ir/Diagnostics.h - Errors reported to the user -----------*- C++ -*-===//
//
// A CompileError is a diagnostic about the user's input (a bad split, an
// unsupported model), thrown by any layer and printed by the tools as one or
// two lines without a backtrace. `hint` says how to fix it. An InternalError
// is a bug in ppc itself.
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

/// A broken compiler invariant: a bug in ppc, not in the user's input. The
/// tools report it as an internal error; passes and tests check invariants
/// with Graph::verify and throw this, never a CompileError.
class InternalError : public std::logic_error {
public:
  using std::logic_error::logic_error;
};

} // namespace ppc

#endif
