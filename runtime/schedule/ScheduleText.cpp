//===- runtime/schedule/ScheduleText.cpp - Schedule grammar and grid ------===//
//
// The text form of actions (`0F1`, `3W0`) and of custom schedule files, and
// the rank x time grid printed by `pprun --print-schedule`.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Schedule.h"
#include "runtime/schedule/UnitSimulation.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"

#include <algorithm>

using namespace ppc::sched;

static char kindLetter(ActionKind k) {
  switch (k) {
  case ActionKind::Forward:
    return 'F';
  case ActionKind::Backward:
    return 'B';
  case ActionKind::InputGrad:
    return 'I';
  case ActionKind::WeightGrad:
    return 'W';
  }
  return '?';
}

std::string Action::str() const {
  return std::to_string(stage) + kindLetter(kind) + std::to_string(microbatch);
}

Action ppc::sched::parseAction(llvm::StringRef text) {
  text = text.trim();
  size_t letter = text.find_first_of("FBIW");
  Action a;
  if (letter == llvm::StringRef::npos || text.take_front(letter).getAsInteger(10, a.stage) ||
      text.drop_front(letter + 1).getAsInteger(10, a.microbatch))
    throw ScheduleError("bad action '" + text.str() + "': expected e.g. 0F1, 2B0, 1I3 or 1W3");
  a.kind = text[letter] == 'F'   ? ActionKind::Forward
           : text[letter] == 'B' ? ActionKind::Backward
           : text[letter] == 'I' ? ActionKind::InputGrad
                                 : ActionKind::WeightGrad;
  return a;
}

Schedule ppc::sched::parseSchedule(llvm::StringRef text, int numStages, int numRanks,
                                   int numMicrobatches, bool training) {
  Schedule s;
  s.name = "custom";
  s.numStages = numStages;
  s.numRanks = numRanks;
  s.numMicrobatches = numMicrobatches;
  s.training = training;
  s.ranks.resize(numRanks);
  llvm::SmallVector<llvm::StringRef, 8> lines;
  text.split(lines, '\n');
  int nextRank = 0;
  for (llvm::StringRef line : lines) {
    line = line.split('#').first.trim();
    if (line.empty())
      continue;
    int rank = nextRank;
    if (line.consume_front("rank")) {
      auto [number, rest] = line.split(':');
      if (number.trim().getAsInteger(10, rank))
        throw ScheduleError("bad line 'rank" + line.str() + "': expected 'rank N: actions'");
      line = rest;
    }
    if (rank < 0 || rank >= numRanks)
      throw ScheduleError("schedule names rank " + std::to_string(rank) + ", but there are " +
                          std::to_string(numRanks) + " ranks");
    llvm::SmallVector<llvm::StringRef, 16> items;
    line.split(items, ',', -1, false);
    for (llvm::StringRef item : items)
      s.ranks[rank].push_back(parseAction(item));
    nextRank = rank + 1;
  }
  validateSchedule(s);
  return s;
}

std::string ppc::sched::printGrid(const Schedule &s) {
  UnitRun run = runUnitTime(s);
  size_t width = 4;
  for (const auto &rank : s.ranks)
    for (const Action &a : rank)
      width = std::max(width, a.str().size() + 1);
  auto pad = [&](std::string cell) {
    cell.resize(width, ' ');
    return cell;
  };
  std::string out = pad("t");
  for (int t = 0; t < run.steps; ++t)
    out += pad(std::to_string(t));
  out += "\n";
  for (int r = 0; r < s.numRanks; ++r) {
    std::vector<std::string> row(run.steps, ".");
    for (size_t i = 0; i < s.ranks[r].size(); ++i)
      row[run.startStep[r][i]] = s.ranks[r][i].str();
    std::string line = pad("r" + std::to_string(r));
    for (const std::string &cell : row)
      line += pad(cell);
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  }
  while (out.find(" \n") != std::string::npos)
    out.replace(out.find(" \n"), 2, "\n");
  return out;
}
