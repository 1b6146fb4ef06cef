//===- tests/driver/MeasureCostsTest.cpp - Region timing -------------------===//
//
// measureRegionCosts on TorchScript models defined here (a layer appends to
// a list that a later layer pops, an op without a derivative), cut into one
// region per layer: each region runs and is timed on state that no other run
// changed, backward times are measured and leave no gradients behind, and a
// region that cannot be timed keeps its analytic cost with one warning.
//
//===----------------------------------------------------------------------===//
#include "driver/MeasureCosts.h"
#include "frontend/ModelImpl.h"
#include "passes/Partitioner.h"
#include "support/TorchSave.h"

#include <gtest/gtest.h>
#include <llvm/Support/raw_ostream.h>

#include <filesystem>

using namespace ppc;

namespace {

/// A layer `name` with an 8x8 weight and the TorchScript method `forward`.
torch::jit::Module layer(const std::string &name, const std::string &forward) {
  torch::jit::Module m("__torch__." + name);
  m.register_parameter("weight", torch::randn({8, 8}), false);
  m.define(forward);
  return m;
}

/// Saves a model of `layers` called in order by `forward` with its example
/// inputs (one 4x8 tensor) next to it, loads it and annotates its shapes.
std::unique_ptr<Model>
loadModel(const std::string &name,
          const std::vector<std::pair<std::string, torch::jit::Module>> &layers,
          const std::string &forward) {
  torch::manual_seed(0);
  torch::jit::Module root("__torch__." + name);
  for (const auto &[attr, m] : layers)
    root.register_module(attr, m);
  root.define(forward);
  // ctest runs each case in a process of its own, several at once: one file each.
  std::string dir =
      ::testing::TempDir() + "/" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::create_directories(dir);
  std::string file = dir + "/" + name + ".pt", io = dir + "/" + name + ".io.pt";
  root.save(file);
  writeTorchSave(io, c10::ivalue::Tuple::create({torch::randn({4, 8})}));
  std::unique_ptr<Model> model = Model::load(file);
  model->annotateShapes(io);
  return model;
}

/// push appends its input to `skips`; pop adds what it pops.
std::unique_ptr<Model> stackModel() {
  return loadModel("Stack",
                   {{"push", layer("Push", "def forward(self, x, skips: List[Tensor]):\n"
                                           "  skips.append(x)\n"
                                           "  return torch.tanh(torch.matmul(x, self.weight))\n")},
                    {"pop", layer("Pop", "def forward(self, x, skips: List[Tensor]):\n"
                                         "  return torch.matmul(x + skips.pop(), self.weight)\n")}},
                   "def forward(self, x):\n"
                   "  skips: List[Tensor] = []\n"
                   "  return self.pop.forward(self.push.forward(x, skips), skips)\n");
}

std::vector<unsigned> candidatePositions(const Graph &g) {
  std::vector<unsigned> out;
  for (const Candidate &c : splitCandidates(g))
    out.push_back(c.position);
  return out;
}

/// Total `field` of the ops of module `path`.
double moduleCost(const Graph &g, const std::string &path, double OpCost::*field) {
  double total = 0;
  for (const auto &op : g.ops())
    if (op->path == path)
      total += op->cost.*field;
  return total;
}

TEST(MeasureCosts, PoppedListIsCopiedForEveryTimedRun) {
  std::unique_ptr<Model> model = stackModel();
  Graph &g = model->graph();
  std::vector<unsigned> cuts = candidatePositions(g);
  ASSERT_FALSE(cuts.empty());
  for (auto &op : g.ops())
    op->cost.timeMs = -1; // anything measured is >= 0
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  // Five timed runs of the pop region: each pops from its own copy of the
  // one-element list as it was at the boundary.
  measureRegionCosts(*model, cuts, {5, false}, os);
  EXPECT_EQ(os.str(), "");
  for (const auto &op : g.ops())
    EXPECT_GE(op->cost.timeMs, 0) << op->kind << " @" << op->path;
  EXPECT_GT(moduleCost(g, "pop", &OpCost::timeMs), 0);
}

TEST(MeasureCosts, BackwardTimesLeaveNoGradients) {
  std::unique_ptr<Model> model = stackModel();
  Graph &g = model->graph();
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  measureRegionCosts(*model, candidatePositions(g), {3, true}, os);
  EXPECT_EQ(os.str(), "");
  EXPECT_GT(moduleCost(g, "push", &OpCost::backwardMs), 0);
  EXPECT_GT(moduleCost(g, "pop", &OpCost::backwardMs), 0);
  for (const auto &p : model->impl().module.named_parameters()) {
    EXPECT_FALSE(p.value.grad().defined()) << p.name;
    EXPECT_FALSE(p.value.requires_grad()) << p.name; // as registered
  }
}

TEST(MeasureCosts, RegionWithoutDerivativeWarnsOnceAndKeepsItsForwardTime) {
  std::unique_ptr<Model> model = loadModel(
      "NoGrad",
      {{"fc", layer("Fc", "def forward(self, x):\n"
                          "  return torch.matmul(x, self.weight)\n")},
       {"step", layer("Step", "def forward(self, x):\n"
                              "  return torch.nextafter(torch.matmul(x, self.weight), x)\n")}},
      "def forward(self, x):\n"
      "  return self.step.forward(self.fc.forward(x))\n");
  Graph &g = model->graph();
  std::string warnings;
  llvm::raw_string_ostream os(warnings);
  measureRegionCosts(*model, candidatePositions(g), {3, true}, os);
  EXPECT_EQ(os.str(), "ppc: warning: could not time the backward of the ops of 'step' (the "
                      "derivative for 'nextafter' is not implemented.); its backward is left "
                      "unmeasured (0)\n");
  EXPECT_GT(moduleCost(g, "fc", &OpCost::backwardMs), 0);
  EXPECT_EQ(moduleCost(g, "step", &OpCost::backwardMs), 0);
  EXPECT_GT(moduleCost(g, "step", &OpCost::timeMs), 0);
}

} // namespace
