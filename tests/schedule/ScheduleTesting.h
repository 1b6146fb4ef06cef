//===- tests/schedule/ScheduleTesting.h - Helpers for schedule tests -*- C++ -*-===//
//
// Prints a schedule's lists one rank per line, and turns the ScheduleError a
// call throws into its message, for golden comparisons.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_TESTS_SCHEDULE_SCHEDULETESTING_H
#define PPC_TESTS_SCHEDULE_SCHEDULETESTING_H

#include "runtime/schedule/Schedule.h"

#include <string>

namespace ppc::sched {

/// "0F0,0F1,...\n" per rank.
inline std::string lists(const Schedule &s) {
  std::string out;
  for (const auto &rank : s.ranks) {
    for (size_t i = 0; i < rank.size(); ++i)
      out += (i ? "," : "") + rank[i].str();
    out += "\n";
  }
  return out;
}

/// The message of the ScheduleError `f` throws, or "ok".
template <typename F> std::string errorOf(F f) {
  try {
    f();
  } catch (const ScheduleError &e) {
    return e.what();
  }
  return "ok";
}

inline std::string parseError(const std::string &text, int stages, int ranks, int mbs,
                              bool training = true) {
  return errorOf([&] { parseSchedule(text, stages, ranks, mbs, training); });
}

inline std::string generateError(const char *name, int stages, int ranks, int mbs) {
  return errorOf([&] { generateSchedule(name, stages, ranks, mbs, true); });
}

} // namespace ppc::sched

#endif
