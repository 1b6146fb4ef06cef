//===- runtime/schedule/Action.cpp - The text grammar of schedules --------===//
//
// Actions print and parse as `<stage><kind><microbatch>` (`0F1`, `3W0`), the
// grammar of torch.distributed.pipelining. A custom schedule is one comma list
// per rank, either `rank 2: 2F0,2B0` or bare lists taken rank by rank, with
// `#` comments; it is validated before it is returned, and every error names
// the line it comes from.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Schedule.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"

using namespace ppc::sched;
using llvm::StringRef;

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

static bool isNumber(StringRef s) { return !s.empty() && llvm::all_of(s, llvm::isDigit); }

Action ppc::sched::parseAction(StringRef text) {
  text = text.trim();
  size_t letter = text.find_first_of("FBIW");
  Action a;
  if (letter == StringRef::npos || !isNumber(text.take_front(letter)) ||
      !isNumber(text.drop_front(letter + 1)) || text.take_front(letter).getAsInteger(10, a.stage) ||
      text.drop_front(letter + 1).getAsInteger(10, a.microbatch))
    throw ScheduleError("bad action '" + text.str() + "': expected e.g. 0F1, 2B0, 1I3 or 1W3");
  switch (text[letter]) {
  case 'F':
    a.kind = ActionKind::Forward;
    break;
  case 'B':
    a.kind = ActionKind::Backward;
    break;
  case 'I':
    a.kind = ActionKind::InputGrad;
    break;
  default:
    a.kind = ActionKind::WeightGrad;
  }
  return a;
}

/// Consumes a leading "rank N:" and returns N, or `implicitRank` for a bare list.
static int takeRank(StringRef &line, int implicitRank) {
  if (!line.consume_front("rank"))
    return implicitRank;
  size_t colon = line.find(':');
  StringRef number = line.take_front(colon).trim();
  int rank = 0;
  if (colon == StringRef::npos || !isNumber(number) || number.getAsInteger(10, rank))
    throw ScheduleError("expected 'rank N: actions'");
  line = line.drop_front(colon + 1);
  return rank;
}

static void parseLine(StringRef line, int &nextRank, std::vector<bool> &listed, Schedule &s) {
  int rank = takeRank(line, nextRank);
  if (rank >= s.numRanks)
    throw ScheduleError("a list for rank " + std::to_string(rank) + ", but there are " +
                        std::to_string(s.numRanks) + " ranks");
  if (listed[rank])
    throw ScheduleError("rank " + std::to_string(rank) + " is listed twice");
  listed[rank] = true;
  llvm::SmallVector<StringRef, 16> items;
  line.split(items, ',');
  for (StringRef item : items)
    if (!item.trim().empty())
      s.ranks[rank].push_back(parseAction(item));
  nextRank = rank + 1;
}

Schedule ppc::sched::parseSchedule(StringRef text, int numStages, int numRanks, int numMicrobatches,
                                   bool training) {
  Schedule s{"custom", numStages, numRanks, numMicrobatches, training, {}};
  s.ranks.resize(std::max(numRanks, 0));
  std::vector<bool> listed(s.ranks.size(), false);
  llvm::SmallVector<StringRef, 8> lines;
  text.split(lines, '\n');
  int nextRank = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    StringRef line = lines[i].split('#').first.trim();
    if (line.empty())
      continue;
    try {
      parseLine(line, nextRank, listed, s);
    } catch (const ScheduleError &e) {
      throw ScheduleError("line " + std::to_string(i + 1) + ": " + e.what());
    }
  }
  validateSchedule(s);
  return s;
}
