//===- support/ErrorText.h - The line of an error worth showing -*- C++ -*-===//
//
// LibTorch errors carry backtraces and, from the TorchScript interpreter, a
// first line that only says an operation failed. errorSummary returns the
// one line a user should see: the first, or for interpreter errors the last
// (the exception itself).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_SUPPORT_ERRORTEXT_H
#define PPC_SUPPORT_ERRORTEXT_H

#include <exception>
#include <string>

namespace ppc {

std::string errorSummary(const std::exception &e);

} // namespace ppc

#endif
