//===- runtime/NonFinite.cpp - Stopping a run at a non-finite step --------===//
//
// The stage named is where the first non-finite value of the step came
// from: the lowest stage whose forward output (or loss) was not finite, as
// a forward's NaN flows into every later stage and, through the loss, into
// every gradient; else, the gradient's way back running from the last stage
// to the first, the highest stage with a non-finite gradient.
//
//===----------------------------------------------------------------------===//
#include "runtime/NonFinite.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

using namespace ppc::rt;

namespace {

std::vector<int> stagesWithNonFiniteGradients(Executor &ex) {
  std::vector<int> stages;
  for (auto &[index, module] : ex.stages())
    for (const auto &p : module.named_parameters(true))
      if (p.value.grad().defined() && !at::isfinite(p.value.grad()).all().item<bool>()) {
        stages.push_back(index);
        break;
      }
  return stages;
}

/// "f 1 3 g 0 1": this rank's stages with non-finite forward outputs (f) and
/// gradients (g).
std::string localFindings(Executor &ex) {
  std::ostringstream out;
  out << "f";
  for (int s : ex.stagesWithNonFiniteOutputs())
    out << " " << s;
  out << " g";
  for (int s : stagesWithNonFiniteGradients(ex))
    out << " " << s;
  return out.str();
}

struct Findings {
  std::vector<int> forward, gradient;
};

void parseFindings(const std::string &text, Findings &into) {
  std::istringstream in(text);
  std::vector<int> *list = nullptr;
  std::string word;
  while (in >> word) {
    if (word == "f" || word == "g")
      list = word == "f" ? &into.forward : &into.gradient;
    else if (list)
      list->push_back(std::stoi(word));
  }
}

std::string describe(int step, double gradNorm, const Findings &all) {
  std::ostringstream out;
  // Steps count from 1 here, as pprun's progress lines do.
  out << "step " << step + 1 << ": the gradient norm is " << (std::isnan(gradNorm) ? "nan" : "inf")
      << "; ";
  if (!all.forward.empty())
    out << "the first non-finite value is stage "
        << *std::min_element(all.forward.begin(), all.forward.end()) << "'s forward output";
  else if (!all.gradient.empty())
    out << "the first non-finite value is stage "
        << *std::max_element(all.gradient.begin(), all.gradient.end()) << "'s gradient";
  else
    out << "no stage's outputs or gradients held it";
  out << ". Stopped before the optimizer step; the last checkpoint is intact "
         "(--allow-nonfinite trains on)";
  return out.str();
}

} // namespace

double ppc::rt::lossFinitenessTerm(const Executor &ex) {
  if (!ex.computesLoss)
    return 0;
  return std::isfinite(ex.lossSum()) ? 0.0 : std::nan("");
}

std::string ppc::rt::nonFiniteReason(Executor &ex, Transport &t, int step, double gradNorm) {
  std::string key = "N|nonfinite|" + std::to_string(step);
  std::string mine = localFindings(ex);
  if (t.rank() != 0) {
    t.send(key, 0, mine);
    t.flush();
    return "";
  }
  Findings all;
  parseFindings(mine, all);
  for (int r = 1; r < t.worldSize(); ++r)
    parseFindings(t.recv(key, r).toStringRef(), all);
  return describe(step, gradNorm, all);
}
