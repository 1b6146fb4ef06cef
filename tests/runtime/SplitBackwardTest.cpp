//===- tests/runtime/SplitBackwardTest.cpp - I + W equals B, once ---------===//
//
// Zero-bubble's split backward must give exactly the fused backward's
// gradients, and must not compute the weight GEMMs in I: after I the matrix
// parameters have no gradient yet while the input's gradient is final, and
// the one-dimensional ones (biases, norm scales) are done.
//
//===----------------------------------------------------------------------===//
#include "runtime/SplitBackward.h"

#include <gtest/gtest.h>

using namespace ppc::rt;

namespace {

/// A pre-norm residual block with a tied weight used twice and a parameter
/// that only the output reaches (`scale`): the shapes pipelines meet.
struct Block {
  torch::nn::LayerNorm norm{torch::nn::LayerNormOptions({8})};
  torch::nn::Linear up{8, 16}, down{16, 8};
  at::Tensor scale = torch::ones({8}).requires_grad_(true);

  std::vector<at::Tensor> parameters() {
    std::vector<at::Tensor> out = {scale};
    for (auto *m : std::initializer_list<torch::nn::Module *>{norm.get(), up.get(), down.get()})
      for (const at::Tensor &p : m->parameters())
        out.push_back(p);
    return out;
  }
  at::Tensor forward(const at::Tensor &x) {
    at::Tensor h = x + down(torch::gelu(up(norm(x))));
    h = h + torch::matmul(h, down->weight.matmul(up->weight)) * 0.1; // weights read twice
    return h * scale;
  }
};

struct Grads {
  at::Tensor input;
  std::vector<at::Tensor> params;
};

Grads collect(Block &block, const at::Tensor &input) {
  Grads g{input.grad().clone(), {}};
  for (const at::Tensor &p : block.parameters()) {
    g.params.push_back(p.grad().clone());
    p.mutable_grad() = at::Tensor();
  }
  return g;
}

} // namespace

TEST(SplitBackward, InputThenWeightEqualsFusedBackward) {
  torch::manual_seed(0);
  Block block;
  at::Tensor x = torch::randn({4, 3, 8});
  at::Tensor outGrad = torch::randn({4, 3, 8});

  at::Tensor fusedIn = x.clone().requires_grad_(true);
  block.forward(fusedIn).backward(outGrad);
  Grads fused = collect(block, fusedIn);

  at::Tensor splitIn = x.clone().requires_grad_(true);
  at::Tensor out = block.forward(splitIn);
  std::shared_ptr<WeightFrontier> frontier;
  std::vector<at::Tensor> inputGrads =
      backwardInput({out}, {outGrad}, {splitIn}, block.parameters(), frontier);
  ASSERT_EQ(inputGrads.size(), 1u);
  EXPECT_TRUE(torch::allclose(inputGrads[0], fused.input, 1e-6, 1e-6));
  for (const at::Tensor &p : block.parameters()) {
    if (p.dim() > 1) {
      EXPECT_FALSE(p.grad().defined()) << "I computed a weight gradient";
    }
  }
  EXPECT_TRUE(block.norm->weight.grad().defined()) << "I leaves norm scales to W";
  EXPECT_TRUE(block.up->bias.grad().defined()) << "I leaves biases to W";

  backwardWeight(*frontier);
  splitIn.mutable_grad() = inputGrads[0];
  Grads split = collect(block, splitIn);
  ASSERT_EQ(split.params.size(), fused.params.size());
  for (size_t i = 0; i < fused.params.size(); ++i)
    EXPECT_TRUE(torch::allclose(split.params[i], fused.params[i], 1e-5, 1e-6)) << "parameter " << i;
}

TEST(SplitBackward, GradientsAccumulateAcrossMicrobatches) {
  torch::manual_seed(1);
  Block block;
  std::vector<at::Tensor> xs = {torch::randn({2, 8}), torch::randn({2, 8})};
  for (const at::Tensor &x : xs)
    block.forward(x.clone().requires_grad_(true)).sum().backward();
  std::vector<at::Tensor> want;
  for (const at::Tensor &p : block.parameters()) {
    want.push_back(p.grad().clone());
    p.mutable_grad() = at::Tensor();
  }
  // Both I before either W, as ZB-H1 orders them.
  std::vector<std::shared_ptr<WeightFrontier>> frontiers(2);
  for (size_t m = 0; m < xs.size(); ++m) {
    at::Tensor in = xs[m].clone().requires_grad_(true);
    at::Tensor out = block.forward(in).sum();
    backwardInput({out}, {torch::ones_like(out)}, {in}, block.parameters(), frontiers[m]);
  }
  for (auto &f : frontiers)
    backwardWeight(*f);
  std::vector<at::Tensor> params = block.parameters();
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::allclose(params[i].grad(), want[i], 1e-5, 1e-6)) << "parameter " << i;
}

/// Two outputs, the first also read by the ops that make the second, as a
/// stage cut after a residual block's relu but inside the next block is:
/// `identity` is a root and an interior node of the other root's graph.
struct TwoOutputs {
  torch::nn::BatchNorm1d norm0{8}, norm1{16};
  torch::nn::Linear up{8, 16}, down{16, 8};

  TwoOutputs() {
    norm0->eval();
    norm1->eval();
  }
  std::vector<at::Tensor> parameters() {
    std::vector<at::Tensor> out;
    for (auto *m :
         std::initializer_list<torch::nn::Module *>{norm0.get(), norm1.get(), up.get(), down.get()})
      for (const at::Tensor &p : m->parameters())
        out.push_back(p);
    return out;
  }
  std::vector<at::Tensor> forward(const at::Tensor &x) {
    at::Tensor identity = torch::relu(norm0(x));
    return {identity, down(torch::relu(norm1(up(identity))))};
  }
};

TEST(SplitBackward, RootThatIsAlsoInteriorIsSplitOnce) {
  torch::manual_seed(2);
  TwoOutputs model;
  at::Tensor x = torch::randn({4, 8});
  std::vector<at::Tensor> outGrads = {torch::randn({4, 8}), torch::randn({4, 8})};
  std::vector<at::Tensor> params = model.parameters();

  at::Tensor fusedIn = x.clone().requires_grad_(true);
  torch::autograd::backward(model.forward(fusedIn), outGrads);
  at::Tensor wantIn = fusedIn.grad().clone();
  std::vector<at::Tensor> want;
  for (const at::Tensor &p : params) {
    want.push_back(p.grad().clone());
    p.mutable_grad() = at::Tensor();
  }

  at::Tensor in = x.clone().requires_grad_(true);
  std::shared_ptr<WeightFrontier> frontier;
  std::vector<at::Tensor> inputGrads =
      backwardInput(model.forward(in), outGrads, {in}, params, frontier);
  ASSERT_EQ(inputGrads.size(), 1u);
  EXPECT_TRUE(torch::allclose(inputGrads[0], wantIn, 1e-6, 1e-6));
  for (const at::Tensor &p : params)
    EXPECT_EQ(p.grad().defined(), p.dim() <= 1) << "I and W split the parameters wrongly";

  backwardWeight(*frontier); // reruns no node of I, whose saved tensors are freed
  for (size_t i = 0; i < params.size(); ++i)
    EXPECT_TRUE(torch::allclose(params[i].grad(), want[i], 1e-5, 1e-6)) << "parameter " << i;
}

TEST(SplitBackward, NoInputLeavesMeansWIsTheWholeBackward) {
  Block block;
  at::Tensor out = block.forward(torch::randn({2, 8}));
  std::shared_ptr<WeightFrontier> frontier;
  EXPECT_TRUE(
      backwardInput({out}, {torch::ones_like(out)}, {}, block.parameters(), frontier).empty());
  for (const at::Tensor &p : block.parameters())
    EXPECT_FALSE(p.grad().defined());
  backwardWeight(*frontier);
  for (const at::Tensor &p : block.parameters())
    EXPECT_TRUE(p.grad().defined());
}
