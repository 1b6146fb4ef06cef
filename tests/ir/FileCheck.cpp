//===- tests/ir/FileCheck.cpp - CHECK-line matching for IR text ----------===//
//
// Matches CHECK lines in order against the lines of a text, as FileCheck does.
//
//===----------------------------------------------------------------------===//
#include "tests/ir/FileCheck.h"

#include "ir/Parser.h"

#include "llvm/ADT/StringRef.h"

#include <vector>

using namespace ppc;

namespace {

struct Check {
  std::string kind; // CHECK, CHECK-NEXT, CHECK-NOT
  std::string pattern;
  int count = 1;
};

/// The kind of a CHECK line and its repeat count; false for a kind this
/// FileCheck does not implement (CHECK-DAG, CHECK-LABEL, a typo), which would
/// otherwise be skipped and let the test pass without checking anything.
bool parseKind(llvm::StringRef kind, Check &c) {
  if (kind.consume_front("CHECK-COUNT-")) {
    c.kind = "CHECK-COUNT";
    return !kind.getAsInteger(10, c.count) && c.count > 0;
  }
  c.kind = kind.str();
  return kind == "CHECK" || kind == "CHECK-NEXT" || kind == "CHECK-SAME" || kind == "CHECK-NOT";
}

/// The CHECK lines in order; an error names a malformed or unknown one.
std::vector<Check> parseChecks(llvm::StringRef checks, std::string &error) {
  std::vector<Check> out;
  llvm::SmallVector<llvm::StringRef, 16> lines;
  checks.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    line = line.trim();
    if (!line.startswith("CHECK"))
      continue;
    auto [kind, pattern] = line.split(':');
    Check c;
    if (kind.size() == line.size() || !parseKind(kind, c)) {
      error = "unknown or malformed check line '" + line.str() + "'";
      return {};
    }
    pattern.consume_front(" ");
    c.pattern = pattern.str();
    if (c.pattern.empty()) {
      error = "check line '" + line.str() + "' has no pattern";
      return {};
    }
    out.push_back(c);
  }
  return out;
}

std::string failure(const Check &c, const std::string &why, const std::string &text) {
  return c.kind + ": " + c.pattern + "\n  " + why + "\n--- text ---\n" + text;
}

} // namespace

::testing::AssertionResult ppc::testing::fileCheck(const std::string &text,
                                                   const std::string &checks) {
  llvm::SmallVector<llvm::StringRef, 64> lines;
  llvm::StringRef(text).split(lines, '\n');
  size_t pos = 0; // first line not yet consumed
  std::vector<const Check *> pendingNots;
  std::string error;
  std::vector<Check> all = parseChecks(checks, error);
  if (!error.empty())
    return ::testing::AssertionFailure() << error;
  if (all.empty())
    return ::testing::AssertionFailure() << "no CHECK lines";
  auto notsHold = [&](size_t from, size_t to) -> const Check * {
    for (const Check *n : pendingNots)
      for (size_t i = from; i < to && i < lines.size(); ++i)
        if (lines[i].contains(n->pattern))
          return n;
    return nullptr;
  };
  for (const Check &c : all) {
    if (c.kind == "CHECK-NOT") {
      pendingNots.push_back(&c);
      continue;
    }
    if (c.kind == "CHECK-SAME") {
      if (pos == 0 || !lines[pos - 1].contains(c.pattern))
        return ::testing::AssertionFailure()
               << failure(c, "not on the line of the previous match", text);
      continue;
    }
    for (int k = 0; k < c.count; ++k) {
      size_t found = pos;
      if (c.kind == "CHECK-NEXT" || (c.kind == "CHECK-COUNT" && k > 0)) {
        if (pos >= lines.size() || !lines[pos].contains(c.pattern))
          return ::testing::AssertionFailure()
                 << failure(c, "not on the next line (line " + std::to_string(pos + 1) + ")", text);
      } else {
        while (found < lines.size() && !lines[found].contains(c.pattern))
          ++found;
        if (found == lines.size())
          return ::testing::AssertionFailure()
                 << failure(c, "not found after line " + std::to_string(pos), text);
      }
      if (const Check *n = notsHold(pos, found))
        return ::testing::AssertionFailure() << failure(*n, "matched before " + c.pattern, text);
      pendingNots.clear();
      pos = found + 1;
    }
  }
  if (const Check *n = notsHold(pos, lines.size()))
    return ::testing::AssertionFailure() << failure(*n, "matched at the end", text);
  return ::testing::AssertionSuccess();
}

std::unique_ptr<Graph> ppc::testing::parseOrFail(const std::string &text) {
  std::string error;
  auto g = parseGraph(text, error);
  EXPECT_TRUE(g) << "parse error: " << error;
  return g;
}
