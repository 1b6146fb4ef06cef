//===- runtime/schedule/Schedule.h - Pipeline schedules as data -*- C++ -*-===//
//
// A schedule is, for each rank, the ordered list of actions it performs in
// one step, in the text grammar of torch.distributed.pipelining: `<stage>F<mb>`
// forward, `<stage>B<mb>` full backward, `<stage>I<mb>` input-grad,
// `<stage>W<mb>` weight-grad (e.g. `0F0,0F1,0B0,0B1`). Generators emit the
// built-in schedules; a custom list is validated by simulation (every
// dependency satisfiable, no deadlock) before the executor runs it. The same
// simulator, given per-stage costs, predicts step time, bubble and peak
// activation memory (used by `ppc --simulate` and `pprun --report`).
// Placement: rank r holds stages r, r+N, r+2N, ... for N ranks.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_SCHEDULE_SCHEDULE_H
#define PPC_RUNTIME_SCHEDULE_SCHEDULE_H

#include "llvm/ADT/StringRef.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace ppc::sched {

enum class ActionKind { Forward, Backward, InputGrad, WeightGrad };

struct Action {
  int stage = 0;
  ActionKind kind = ActionKind::Forward;
  int microbatch = 0;

  /// "0F1", "3W0".
  std::string str() const;
  bool operator==(const Action &o) const {
    return stage == o.stage && kind == o.kind && microbatch == o.microbatch;
  }
};

struct Schedule {
  std::string name;
  int numStages = 0;
  int numRanks = 0;
  int numMicrobatches = 0;
  bool training = false;
  /// ranks[r] is rank r's action list in execution order.
  std::vector<std::vector<Action>> ranks;
};

/// Thrown for a bad schedule name, bad text or an invalid action list.
class ScheduleError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The rank that holds `stage`.
inline int rankOfStage(int stage, int numRanks) { return stage % numRanks; }

/// "gpipe", "1f1b", "interleaved-1f1b", "looped-bfs", "zero-bubble".
std::vector<std::string> scheduleNames();

/// Emits a built-in schedule. Without training, every schedule is its forward
/// order only (F actions). Throws ScheduleError on a bad name or shape
/// (S not a multiple of N; interleaved schedules need S = v*N with v >= 2).
Schedule generateSchedule(llvm::StringRef name, int numStages, int numRanks, int numMicrobatches,
                          bool training);

/// A built-in schedule by name, else the action list in the file `nameOrFile`
/// (parsed and validated); std::invalid_argument when it is neither, which
/// pprun prints and the Python API raises as ValueError.
Schedule loadSchedule(const std::string &nameOrFile, int numStages, int numRanks,
                      int numMicrobatches, bool training);

/// Parses one action, e.g. "2B5".
Action parseAction(llvm::StringRef text);

/// Parses a custom schedule: one line per rank, "rank 0: 0F0,0F1,..." or the
/// bare comma list; '#' starts a comment. Then validates it (throws).
Schedule parseSchedule(llvm::StringRef text, int numStages, int numRanks, int numMicrobatches,
                       bool training);

/// Checks that each stage/microbatch appears exactly as the mode requires,
/// that every action sits on the rank holding its stage, and that running the
/// lists with blocking dependencies finishes (no deadlock). Throws ScheduleError
/// naming the first problem.
void validateSchedule(const Schedule &s);

/// The rank x time grid for --print-schedule: one row per rank, one column
/// per unit time step (every action takes one unit), '.' for idle.
std::string printGrid(const Schedule &s);

/// Per-stage costs for simulation (milliseconds, bytes). backwardMs is the
/// full B; inputGradMs + weightGradMs is its split for I/W (if zero, B/2 each).
struct StageCosts {
  std::vector<double> forwardMs;
  std::vector<double> backwardMs;
  std::vector<double> inputGradMs;
  std::vector<double> weightGradMs;
  /// Transfer time of stage k's outputs to its consumers (0 = free).
  std::vector<double> sendMs;
  /// Activation bytes one microbatch keeps alive in stage k between F and B
  /// (or zero-bubble's I).
  std::vector<double> activationBytes;
  /// What it still keeps between I and W: I frees what only the input
  /// gradients needed. Absent: all of activationBytes.
  std::vector<double> weightKeptBytes;
};

/// Microbatches a stage holds at one moment: in full (from F to B, or to a
/// zero-bubble I), and between I and W only what W needs.
struct LiveMicrobatches {
  int full = 0;
  int weightOnly = 0;
  bool operator==(const LiveMicrobatches &o) const {
    return full == o.full && weightOnly == o.weightOnly;
  }
};

struct TimedAction {
  Action action;
  double startMs = 0;
  double endMs = 0;
};

struct Simulation {
  double stepMs = 0;
  /// Idle share of rank time over the step: 1 - sum(busy) / (ranks * step).
  double bubbleFraction = 0;
  std::vector<double> busyMs;              // per rank
  std::vector<double> peakActivationBytes; // per stage
  /// Per stage, what it holds after each change (where a peak can be,
  /// whatever the bytes of each kind).
  std::vector<std::vector<LiveMicrobatches>> liveStates;
  std::vector<std::vector<TimedAction>> timeline; // per rank
};

/// Runs the schedule on the costs (an action starts when its rank is free and
/// its dependencies, plus transfer time, are done).
Simulation simulate(const Schedule &s, const StageCosts &costs);

} // namespace ppc::sched

#endif
