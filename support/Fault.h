//===- support/Fault.h - Faults injected by tests --------------*- C++ -*-===//
//
// PPC_FAULT=WHERE:RANK:STEP makes rank RANK exit (code 3, one line on
// stderr) when it reaches the point WHERE of step STEP, so tests can kill a
// rank at a chosen moment: "checkpoint" (after writing its files of the
// checkpoint of STEP steps), "tied" (inside the tied-gradient reduction).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_SUPPORT_FAULT_H
#define PPC_SUPPORT_FAULT_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ppc {

inline void faultPoint(const char *where, int rank, int64_t step) {
  const char *spec = std::getenv("PPC_FAULT");
  if (!spec || std::string(spec) !=
                   std::string(where) + ":" + std::to_string(rank) + ":" + std::to_string(step))
    return;
  std::fprintf(stderr, "pprun: PPC_FAULT: rank %d dies at %s, step %lld\n", rank, where,
               (long long)step);
  std::fflush(stderr);
  std::_Exit(3);
}

} // namespace ppc

#endif
