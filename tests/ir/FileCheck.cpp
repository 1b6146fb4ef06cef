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

std::vector<Check> parseChecks(llvm::StringRef checks) {
  std::vector<Check> out;
  llvm::SmallVector<llvm::StringRef, 16> lines;
  checks.split(lines, '\n');
  for (llvm::StringRef line : lines) {
    line = line.trim();
    size_t colon = line.find(": ");
    if (!line.startswith("CHECK") || colon == llvm::StringRef::npos)
      continue;
    Check c{line.take_front(colon).str(), line.drop_front(colon + 2).str()};
    llvm::StringRef kind = c.kind;
    if (kind.consume_front("CHECK-COUNT-")) {
      c.count = std::stoi(kind.str());
      c.kind = "CHECK-COUNT";
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
  std::vector<Check> all = parseChecks(checks);
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
