//===- runtime/schedule/Generators.cpp - The built-in schedules -----------===//
//
// Emits each rank's action list for the built-in schedules, following
// torch.distributed.pipelining (rank r holds stages r, r+N, ...):
//  - gpipe: every forward, stage by stage, then every backward in reverse.
//  - looped-bfs: the same, but backwards run microbatches last to first, as
//    torch's ScheduleLoopedBFS does.
//  - 1f1b: S-r-1 warm-up forwards, then one forward and one backward in turn.
//  - interleaved-1f1b: Megatron's interleaved 1F1B as torch's
//    ScheduleInterleaved1F1B lays it out: microbatches in max(1, M/N) rounds,
//    each round through every local stage, warm-up (v-1)*round + 2(N-r-1).
//    Torch needs M to split into equal rounds; rounds here differ by at most
//    one microbatch, which gives the same lists where torch accepts M.
//  - zero-bubble (ZB-H1): 1F1B with B split into I (on the critical path)
//    and W; rank r keeps up to r W's pending, so later ranks return gradients
//    sooner, and the deferred W's fill the cool-down.
// Without training, each is its forward order. Every list is validated.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Schedule.h"

#include "llvm/ADT/StringExtras.h"

#include <algorithm>
#include <deque>
#include <fstream>
#include <sstream>
#include <stdexcept>

using namespace ppc::sched;

namespace {

using Actions = std::vector<Action>;

/// `warmup` forwards, then one forward and one backward in turn, then the
/// remaining backwards.
Actions oneForwardOneBackward(const Actions &forwards, const Actions &backwards, size_t warmup) {
  warmup = std::min(warmup, forwards.size());
  Actions out(forwards.begin(), forwards.begin() + warmup);
  size_t b = 0;
  for (size_t f = warmup; f < forwards.size(); ++f) {
    out.push_back(forwards[f]);
    out.push_back(backwards[b++]);
  }
  out.insert(out.end(), backwards.begin() + b, backwards.end());
  return out;
}

/// All forwards of rank's first stage, then its next stage, ...; backwards
/// from its last stage to its first.
Actions stageByStage(int rank, const Schedule &s, bool backwardsLastMicrobatchFirst) {
  Actions out;
  for (int st = rank; st < s.numStages; st += s.numRanks)
    for (int m = 0; m < s.numMicrobatches; ++m)
      out.push_back({st, ActionKind::Forward, m});
  if (!s.training)
    return out;
  for (int st = s.numStages - s.numRanks + rank; st >= 0; st -= s.numRanks)
    for (int i = 0; i < s.numMicrobatches; ++i) {
      int m = backwardsLastMicrobatchFirst ? s.numMicrobatches - 1 - i : i;
      out.push_back({st, ActionKind::Backward, m});
    }
  return out;
}

Actions microbatchOrder(int stage, ActionKind kind, const Schedule &s) {
  Actions out;
  for (int m = 0; m < s.numMicrobatches; ++m)
    out.push_back({stage, kind, m});
  return out;
}

Actions oneF1B(int rank, const Schedule &s) {
  Actions forwards = microbatchOrder(rank, ActionKind::Forward, s);
  if (!s.training)
    return forwards;
  return oneForwardOneBackward(forwards, microbatchOrder(rank, ActionKind::Backward, s),
                               s.numStages - rank - 1);
}

/// max(1, M/N) rounds whose sizes differ by at most one, larger ones first.
std::vector<int> roundSizes(const Schedule &s) {
  int rounds = std::max(1, s.numMicrobatches / s.numRanks);
  std::vector<int> sizes;
  for (int i = 0; i < rounds; ++i)
    sizes.push_back(s.numMicrobatches / rounds + (i < s.numMicrobatches % rounds ? 1 : 0));
  return sizes;
}

/// Each round through every local stage: first to last for forwards, last
/// to first for backwards.
Actions interleavedOrder(int rank, const Schedule &s, ActionKind kind) {
  int v = s.numStages / s.numRanks;
  Actions out;
  int first = 0;
  for (int size : roundSizes(s)) {
    for (int i = 0; i < v; ++i) {
      int chunk = kind == ActionKind::Forward ? i : v - 1 - i;
      for (int m = first; m < first + size; ++m)
        out.push_back({chunk * s.numRanks + rank, kind, m});
    }
    first += size;
  }
  return out;
}

Actions interleaved(int rank, const Schedule &s) {
  Actions forwards = interleavedOrder(rank, s, ActionKind::Forward);
  if (!s.training)
    return forwards;
  int v = s.numStages / s.numRanks;
  size_t warmup = (v - 1) * roundSizes(s).front() + 2 * (s.numRanks - rank - 1);
  return oneForwardOneBackward(forwards, interleavedOrder(rank, s, ActionKind::Backward), warmup);
}

Actions zeroBubble(int rank, const Schedule &s) {
  int m = s.numMicrobatches;
  Actions out = microbatchOrder(rank, ActionKind::Forward, s);
  if (!s.training)
    return out;
  int warmup = std::min(s.numStages - rank - 1, m);
  out.resize(warmup);
  std::deque<int> pendingW;
  auto inputGrad = [&](int mb) {
    out.push_back({rank, ActionKind::InputGrad, mb});
    pendingW.push_back(mb);
  };
  auto weightGrad = [&]() {
    out.push_back({rank, ActionKind::WeightGrad, pendingW.front()});
    pendingW.pop_front();
  };
  int b = 0;
  for (int f = warmup; f < m; ++f) {
    out.push_back({rank, ActionKind::Forward, f});
    inputGrad(b++);
    if (pendingW.size() > size_t(rank))
      weightGrad();
  }
  for (; b < m; ++b) { // cool-down: a deferred W fills each wait for a gradient
    inputGrad(b);
    weightGrad();
  }
  while (!pendingW.empty())
    weightGrad();
  return out;
}

std::string str(int i) { return std::to_string(i); }

void checkShape(llvm::StringRef name, int stages, int ranks, int microbatches) {
  if (microbatches < 1)
    throw ScheduleError("the microbatch count must be at least 1, got " + str(microbatches));
  if (stages < 1 || ranks < 1)
    throw ScheduleError("a pipeline needs at least one stage and one rank, got " + str(stages) +
                        " stages on " + str(ranks) + " ranks");
  if (stages % ranks != 0)
    throw ScheduleError(str(stages) + " stages cannot be spread over " + str(ranks) +
                        " ranks: the stage count must be a multiple of the rank count");
  int v = stages / ranks;
  if ((name == "interleaved-1f1b" || name == "looped-bfs") && v < 2)
    throw ScheduleError(name.str() + " needs at least two stages per rank (S = v*N, v >= 2), got " +
                        str(stages) + " stages on " + str(ranks) + " ranks; use 1f1b or gpipe");
  if ((name == "1f1b" || name == "zero-bubble") && v != 1)
    throw ScheduleError(name.str() + " runs one stage per rank; for " + str(v) +
                        " stages per rank use interleaved-1f1b or looped-bfs");
}

} // namespace

std::vector<std::string> ppc::sched::scheduleNames() {
  return {"gpipe", "1f1b", "interleaved-1f1b", "looped-bfs", "zero-bubble"};
}

Schedule ppc::sched::generateSchedule(llvm::StringRef name, int numStages, int numRanks,
                                      int numMicrobatches, bool training) {
  std::vector<std::string> names = scheduleNames();
  if (std::find(names.begin(), names.end(), name.str()) == names.end())
    throw ScheduleError("unknown schedule '" + name.str() +
                        "'; built in: " + llvm::join(names, ", "));
  checkShape(name, numStages, numRanks, numMicrobatches);
  Schedule s{name.str(), numStages, numRanks, numMicrobatches, training, {}};
  for (int r = 0; r < numRanks; ++r) {
    if (name == "gpipe" || name == "looped-bfs")
      s.ranks.push_back(stageByStage(r, s, name == "looped-bfs"));
    else if (name == "1f1b")
      s.ranks.push_back(oneF1B(r, s));
    else if (name == "interleaved-1f1b")
      s.ranks.push_back(interleaved(r, s));
    else
      s.ranks.push_back(zeroBubble(r, s));
  }
  validateSchedule(s);
  return s;
}

Schedule ppc::sched::loadSchedule(const std::string &nameOrFile, int numStages, int numRanks,
                                  int numMicrobatches, bool training) {
  auto names = scheduleNames();
  if (std::find(names.begin(), names.end(), nameOrFile) != names.end())
    return generateSchedule(nameOrFile, numStages, numRanks, numMicrobatches, training);
  std::ifstream file(nameOrFile);
  if (!file)
    throw std::invalid_argument("unknown schedule '" + nameOrFile +
                                "' (built in: gpipe, 1f1b, interleaved-1f1b, looped-bfs, "
                                "zero-bubble; or a file of actions)");
  std::stringstream text;
  text << file.rdbuf();
  return parseSchedule(text.str(), numStages, numRanks, numMicrobatches, training);
}
