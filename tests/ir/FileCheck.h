//===- tests/ir/FileCheck.h - CHECK-line matching for IR text --*- C++ -*-===//
//
// A small FileCheck for golden IR tests: `CHECK:` finds a line containing the
// pattern at or after the current position, `CHECK-NEXT:` must match the very
// next line, `CHECK-SAME:` the line of the previous match, `CHECK-NOT:` must not match between the
// previous and the next positive match, `CHECK-COUNT-N:` matches N times in a row. Patterns are
// substrings; `{{...}}` is not supported on purpose: IR text is exact.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_TESTS_FILECHECK_H
#define PPC_TESTS_FILECHECK_H

#include "ir/Graph.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ppc::testing {

/// Success, or a failure that shows the unmatched CHECK line and the text.
::testing::AssertionResult fileCheck(const std::string &text, const std::string &checks);

/// Parses IR text, failing the current test on a parse error.
std::unique_ptr<Graph> parseOrFail(const std::string &text);

} // namespace ppc::testing

#endif
