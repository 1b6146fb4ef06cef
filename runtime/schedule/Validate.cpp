//===- runtime/schedule/Validate.cpp - Is an action list runnable? --------===//
//
// A schedule is valid when its shape is sane, every action names an existing
// stage and microbatch on the rank that holds the stage, each stage and
// microbatch has exactly one F and, in training, either one B or one I and
// one W, and replaying the lists with blocking dependencies finishes. The
// first problem found is thrown as a one-line ScheduleError naming the action
// and rank.
//
//===----------------------------------------------------------------------===//
#include "runtime/schedule/Replay.h"
#include "runtime/schedule/Schedule.h"

using namespace ppc::sched;

namespace {

std::string str(int i) { return std::to_string(i); }

void checkShape(const Schedule &s) {
  if (s.numStages < 1 || s.numRanks < 1 || s.numMicrobatches < 1)
    throw ScheduleError("a schedule needs at least one stage, rank and microbatch; got " +
                        str(s.numStages) + " stages, " + str(s.numRanks) + " ranks, " +
                        str(s.numMicrobatches) + " microbatches");
  if (int(s.ranks.size()) != s.numRanks)
    throw ScheduleError("schedule has " + std::to_string(s.ranks.size()) + " rank lists for " +
                        str(s.numRanks) + " ranks");
}

void checkPlacement(const Schedule &s, int rank, const Action &a) {
  if (a.stage < 0 || a.stage >= s.numStages || a.microbatch < 0 ||
      a.microbatch >= s.numMicrobatches)
    throw ScheduleError("action " + a.str() + " on rank " + str(rank) + " is out of range (" +
                        str(s.numStages) + " stages, " + str(s.numMicrobatches) + " microbatches)");
  int holder = rankOfStage(a.stage, s.numRanks);
  if (holder != rank)
    throw ScheduleError("action " + a.str() + " is on rank " + str(rank) + ", but stage " +
                        str(a.stage) + " lives on rank " + str(holder));
  if (!s.training && a.kind != ActionKind::Forward)
    throw ScheduleError("action " + a.str() + " on rank " + str(rank) +
                        " in an inference schedule (forwards only)");
}

/// How often each (stage, microbatch, kind) occurs; throws on a repeat.
std::vector<int> countActions(const Schedule &s) {
  std::vector<int> count(numSlots(s), 0);
  for (int r = 0; r < s.numRanks; ++r)
    for (const Action &a : s.ranks[r]) {
      checkPlacement(s, r, a);
      if (++count[slotOf(a, s)] > 1)
        throw ScheduleError("action " + a.str() + " appears twice on rank " + str(r));
    }
  return count;
}

/// One B, or one I and one W, for (stage, mb); `has(kind)` says which exist.
template <typename Has> void checkBackward(int stage, int mb, Has has) {
  auto name = [&](ActionKind k) { return Action{stage, k, mb}.str(); };
  std::string b = name(ActionKind::Backward), i = name(ActionKind::InputGrad),
              w = name(ActionKind::WeightGrad);
  bool hasB = has(ActionKind::Backward), hasI = has(ActionKind::InputGrad),
       hasW = has(ActionKind::WeightGrad);
  if (hasB && (hasI || hasW))
    throw ScheduleError("schedule has both " + b + " and " + (hasI ? i : w) +
                        ": a backward is either B or split into I and W");
  if (!hasB && !hasI && !hasW)
    throw ScheduleError("schedule lacks " + b + " (or " + i + " and " + w + ")");
  if (hasI && !hasW)
    throw ScheduleError("schedule lacks " + w + ", the weight-grad after " + i);
  if (hasW && !hasI)
    throw ScheduleError("schedule lacks " + i + ", the input-grad before " + w);
}

void checkCoverage(const Schedule &s, const std::vector<int> &count) {
  for (int stage = 0; stage < s.numStages; ++stage)
    for (int mb = 0; mb < s.numMicrobatches; ++mb) {
      auto has = [&](ActionKind k) { return count[slotOf({stage, k, mb}, s)] > 0; };
      if (!has(ActionKind::Forward))
        throw ScheduleError("schedule lacks " + Action{stage, ActionKind::Forward, mb}.str());
      if (s.training)
        checkBackward(stage, mb, has);
    }
}

} // namespace

void ppc::sched::validateSchedule(const Schedule &s) {
  checkShape(s);
  checkCoverage(s, countActions(s));
  Replay(s).runUnitTime();
}
