//===- runtime/schedule/Grid.cpp - The rank x time grid --------------------===//
//
// `--print-schedule` shows a schedule as a grid: a header row of time steps,
// then one row per rank with the action each rank runs at each step, every
// action taking one unit and starting as soon as its rank and dependencies
// allow; `.` marks an idle step. Columns share one width, so the grid reads
// as a timeline.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Replay.h"
#include "runtime/schedule/Schedule.h"

#include <algorithm>

using namespace ppc::sched;

/// One line of cells, each padded to `width`, without trailing blanks.
static std::string gridLine(const std::vector<std::string> &cells, size_t width) {
  std::string line;
  for (const std::string &cell : cells)
    line += cell + std::string(width - std::min(width, cell.size()), ' ');
  line.erase(line.find_last_not_of(' ') + 1);
  return line + "\n";
}

std::string ppc::sched::printGrid(const Schedule &s) {
  validateSchedule(s);
  ReplayTimes times = Replay(s).runUnitTime();
  size_t steps = 0, width = 4;
  for (int r = 0; r < s.numRanks; ++r)
    for (size_t i = 0; i < s.ranks[r].size(); ++i) {
      steps = std::max(steps, size_t(times.end[r][i]));
      width = std::max(width, s.ranks[r][i].str().size() + 1);
    }
  std::vector<std::string> header{"t"};
  for (size_t t = 0; t < steps; ++t)
    header.push_back(std::to_string(t));
  std::string out = gridLine(header, width);
  for (int r = 0; r < s.numRanks; ++r) {
    std::vector<std::string> row(steps + 1, ".");
    row[0] = "r" + std::to_string(r);
    for (size_t i = 0; i < s.ranks[r].size(); ++i)
      row[1 + size_t(times.start[r][i])] = s.ranks[r][i].str();
    out += gridLine(row, width);
  }
  return out;
}
