//===- runtime/schedule/ScheduleGenerators.cpp - Built-in schedules -------===//
//
// Emits each rank's action list for the built-in schedules, following
// torch.distributed.pipelining: GPipe (all forwards, then all backwards),
// 1F1B (warm-up of S-r-1 forwards, then one forward one backward), Megatron's
// interleaved 1F1B over v local stages per rank, looped BFS (stage by stage),
// and ZB-H1 zero bubble (backward split into input-grad I on the critical path
// and weight-grad W; rank r defers up to r W's, so that later ranks return
// gradients sooner and the deferred W's fill the cool-down). Every generated
// list is validated.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Schedule.h"

#include <algorithm>
#include <deque>

using namespace ppc::sched;

namespace {

using Actions = std::vector<Action>;

Action forward(int stage, int mb) { return {stage, ActionKind::Forward, mb}; }
Action backward(int stage, int mb) { return {stage, ActionKind::Backward, mb}; }

/// One forward, one backward after `warmup` forwards; the rest cools down.
Actions oneForwardOneBackward(const Actions &forwards, const Actions &backwards, size_t warmup) {
  warmup = std::min(warmup, forwards.size());
  Actions out(forwards.begin(), forwards.begin() + warmup);
  size_t f = warmup, b = 0;
  while (f < forwards.size()) {
    out.push_back(forwards[f++]);
    out.push_back(backwards[b++]);
  }
  out.insert(out.end(), backwards.begin() + b, backwards.end());
  return out;
}

Actions gpipe(int rank, const Schedule &s) {
  Actions fw, bw;
  for (int st = rank; st < s.numStages; st += s.numRanks)
    for (int m = 0; m < s.numMicrobatches; ++m)
      fw.push_back(forward(st, m));
  for (int st = s.numStages - s.numRanks + rank; st >= 0; st -= s.numRanks)
    for (int m = 0; m < s.numMicrobatches; ++m)
      bw.push_back(backward(st, m));
  if (s.training)
    fw.insert(fw.end(), bw.begin(), bw.end());
  return fw;
}

Actions oneF1B(int rank, const Schedule &s) {
  Actions fw, bw;
  for (int m = 0; m < s.numMicrobatches; ++m) {
    fw.push_back(forward(rank, m));
    bw.push_back(backward(rank, m));
  }
  if (!s.training)
    return fw;
  return oneForwardOneBackward(fw, bw, s.numStages - rank - 1);
}

/// Megatron's interleaved order: microbatches in groups of N, each group
/// through every local stage before the next group.
Actions interleavedOrder(int rank, const Schedule &s, bool backwardPass) {
  int n = s.numRanks, v = s.numStages / n;
  Actions out;
  for (int group = 0; group < s.numMicrobatches; group += n)
    for (int i = 0; i < v; ++i) {
      int chunk = backwardPass ? v - 1 - i : i;
      for (int m = group; m < std::min(group + n, s.numMicrobatches); ++m)
        out.push_back(backwardPass ? backward(chunk * n + rank, m) : forward(chunk * n + rank, m));
    }
  return out;
}

/// Megatron's warm-up of (v-1)N + 2(N-r-1) forwards assumes M is a multiple
/// of N; with a partial last group some ranks need a longer warm-up.
Actions interleaved(int rank, const Schedule &s, size_t extraWarmup) {
  Actions fw = interleavedOrder(rank, s, false);
  if (!s.training)
    return fw;
  int n = s.numRanks, v = s.numStages / n;
  size_t warmup = (v - 1) * n + 2 * (n - rank - 1) + extraWarmup;
  return oneForwardOneBackward(fw, interleavedOrder(rank, s, true), warmup);
}

Schedule interleavedSchedule(Schedule s) {
  size_t total = size_t(s.numMicrobatches) * (s.numStages / s.numRanks);
  for (size_t extra = 0;; ++extra) {
    s.ranks.clear();
    for (int r = 0; r < s.numRanks; ++r)
      s.ranks.push_back(interleaved(r, s, extra));
    try {
      validateSchedule(s);
      return s;
    } catch (const ScheduleError &) {
      if (extra >= total) // all forwards first cannot deadlock; never reached
        throw;
    }
  }
}

Actions zeroBubble(int rank, const Schedule &s) {
  Actions out;
  int m = s.numMicrobatches;
  if (!s.training) {
    for (int i = 0; i < m; ++i)
      out.push_back(forward(rank, i));
    return out;
  }
  int warmup = std::min(s.numStages - rank - 1, m);
  size_t deferLimit = rank;
  std::deque<int> pendingW;
  auto inputGrad = [&](int i) {
    out.push_back({rank, ActionKind::InputGrad, i});
    pendingW.push_back(i);
  };
  auto weightGrad = [&]() {
    out.push_back({rank, ActionKind::WeightGrad, pendingW.front()});
    pendingW.pop_front();
  };
  for (int i = 0; i < warmup; ++i)
    out.push_back(forward(rank, i));
  int b = 0;
  for (int f = warmup; f < m; ++f) {
    out.push_back(forward(rank, f));
    inputGrad(b++);
    if (pendingW.size() > deferLimit)
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

void checkShape(llvm::StringRef name, int stages, int ranks, int microbatches) {
  if (stages < 1 || ranks < 1 || microbatches < 1)
    throw ScheduleError("stages, ranks and microbatches must be at least 1");
  if (stages % ranks != 0)
    throw ScheduleError(std::to_string(stages) + " stages cannot be spread over " +
                        std::to_string(ranks) +
                        " ranks: the stage count must be a multiple of "
                        "the rank count");
  int v = stages / ranks;
  bool multi = name == "interleaved-1f1b" || name == "looped-bfs";
  if (multi && v < 2)
    throw ScheduleError(name.str() + " needs at least two stages per rank (S = v*N, v >= 2); " +
                        "got " + std::to_string(stages) + " stages on " + std::to_string(ranks) +
                        " ranks");
  if ((name == "1f1b" || name == "zero-bubble") && v != 1)
    throw ScheduleError(name.str() + " runs one stage per rank; for " + std::to_string(v) +
                        " stages per rank use interleaved-1f1b or looped-bfs");
}

} // namespace

std::vector<std::string> ppc::sched::scheduleNames() {
  return {"gpipe", "1f1b", "interleaved-1f1b", "looped-bfs", "zero-bubble"};
}

Schedule ppc::sched::generateSchedule(llvm::StringRef name, int numStages, int numRanks,
                                      int numMicrobatches, bool training) {
  auto names = scheduleNames();
  if (std::find(names.begin(), names.end(), name.str()) == names.end())
    throw ScheduleError("unknown schedule '" + name.str() +
                        "'; built in: gpipe, 1f1b, interleaved-1f1b, looped-bfs, zero-bubble");
  checkShape(name, numStages, numRanks, numMicrobatches);
  Schedule s{name.str(), numStages, numRanks, numMicrobatches, training, {}};
  if (name == "interleaved-1f1b")
    return interleavedSchedule(s);
  for (int r = 0; r < numRanks; ++r) {
    if (name == "gpipe" || name == "looped-bfs")
      s.ranks.push_back(gpipe(r, s));
    else if (name == "1f1b")
      s.ranks.push_back(oneF1B(r, s));
    else
      s.ranks.push_back(zeroBubble(r, s));
  }
  validateSchedule(s);
  return s;
}
