//===- bench/split_backward_bench.cpp - I + W against the fused backward --===//
//
// Zero-bubble is only worth its schedule if splitting a stage's backward into
// an input-grad (I) and a weight-grad (W) pass costs no more than the fused
// backward (B). Inside a pipeline run the two are measured under different
// contention (other ranks, transport threads), so this bench measures them in
// isolation: one process, one intra-op thread, the same module, forward and
// backward alternating between the two ways, medians over many repetitions
// (split_over_fused: the median of each repetition's ratio).
// Prints one JSON object.
//
//===----------------------------------------------------------------------===//
#include "runtime/SplitBackward.h"
#include "support/ErrorText.h"
#include "support/HostMemory.h"

#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/script.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <sstream>

namespace {

std::vector<int64_t> parseShape(const std::string &text) {
  std::vector<int64_t> shape;
  std::stringstream in(text);
  for (std::string dim; std::getline(in, dim, 'x');)
    shape.push_back(std::stoll(dim));
  return shape;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double msSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct Forward {
  at::Tensor input;
  std::vector<at::Tensor> outputs, outputGrads; // a stage returns a tuple
};

Forward runForward(torch::jit::Module &module, const std::vector<int64_t> &shape) {
  Forward f;
  f.input = torch::randn(shape).requires_grad_(true);
  c10::IValue out = module.forward({f.input});
  std::vector<c10::IValue> items =
      out.isTuple() ? out.toTupleRef().elements().vec() : std::vector<c10::IValue>{out};
  for (const c10::IValue &item : items)
    if (item.isTensor() && item.toTensor().requires_grad()) {
      f.outputs.push_back(item.toTensor());
      f.outputGrads.push_back(torch::randn_like(item.toTensor()));
    }
  return f;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    std::cerr << "usage: split_backward_bench MODULE.pt SHAPE (e.g. 1x128x256) [REPS]\n";
    return 2;
  }
  ppc::retainFreedHostMemory(); // as pprun runs
  try {
    at::set_num_threads(1);
    // Two copies: the executor keeps the plan it made first, and pprun runs
    // I and W with per-op autograd (runtime/Pipeline.cpp), B without.
    torch::jit::Module module = torch::jit::load(argv[1]);
    torch::jit::Module splitModule = torch::jit::load(argv[1]);
    module.train();
    splitModule.train();
    std::vector<int64_t> shape = parseShape(argv[2]);
    int reps = argc > 3 ? std::stoi(argv[3]) : 20;
    std::vector<at::Tensor> params;
    for (const at::Tensor &p : splitModule.parameters())
      params.push_back(p);
    std::vector<double> fused, fusedPerOp, input, weight, ratio;
    for (int r = 0; r < reps + 2; ++r) {
      Forward a = runForward(module, shape);
      auto t0 = std::chrono::steady_clock::now();
      torch::autograd::backward(a.outputs, a.outputGrads);
      double fusedMs = msSince(t0);
      Forward c = [&] {
        torch::jit::GraphOptimizerEnabledGuard eagerAutograd(false);
        return runForward(splitModule, shape);
      }();
      t0 = std::chrono::steady_clock::now();
      torch::autograd::backward(c.outputs, c.outputGrads);
      double fusedPerOpMs = msSince(t0);
      Forward b = [&] {
        // As pprun runs split backward: per-op autograd nodes (runtime/Executor.cpp).
        torch::jit::GraphOptimizerEnabledGuard eagerAutograd(false);
        return runForward(splitModule, shape);
      }();
      std::shared_ptr<ppc::rt::WeightFrontier> frontier;
      t0 = std::chrono::steady_clock::now();
      ppc::rt::backwardInput(b.outputs, b.outputGrads, {b.input}, params, frontier);
      double inputMs = msSince(t0);
      t0 = std::chrono::steady_clock::now();
      ppc::rt::backwardWeight(*frontier);
      double weightMs = msSince(t0);
      if (r < 2) // warm-up
        continue;
      fused.push_back(fusedMs);
      fusedPerOp.push_back(fusedPerOpMs);
      input.push_back(inputMs);
      weight.push_back(weightMs);
      ratio.push_back((inputMs + weightMs) / fusedMs);
    }
    double b = median(fused), i = median(input), w = median(weight);
    std::cout << "{\"bench\": \"split_backward\", \"module\": \"" << argv[1]
              << "\", \"fused_ms\": " << b
              << ", \"fused_per_op_autograd_ms\": " << median(fusedPerOp)
              << ", \"input_grad_ms\": " << i << ", \"weight_grad_ms\": " << w
              << ", \"split_over_fused\": " << median(ratio) << ", \"reps\": " << reps << "}\n";
  } catch (const std::exception &e) {
    std::cerr << "split_backward_bench: " << ppc::errorSummary(e) << "\n";
    return 1;
  }
}
