//===- runtime/SplitBackward.h - Input-grad and weight-grad passes -*- C++ -*-===//
//
// Zero-bubble's I and W actions split one backward in two without running
// any part of it twice, in the spirit of torch.distributed.pipelining's
// stage_backward_input / stage_backward_weight. I runs only the autograd
// nodes that lead to the stage's input leaves and keeps the gradients that
// reach the ones among them with edges into the parameter-only part; W
// reruns just those nodes' weight-side outputs and the parameter side.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_SPLITBACKWARD_H
#define PPC_RUNTIME_SPLITBACKWARD_H

#include <torch/torch.h>

#include <memory>
#include <vector>

namespace ppc::rt {

/// What I leaves for W: gradients on the edges into the parameter side.
struct WeightFrontier;

/// I: one gradient per input leaf (undefined where unused), and the frontier
/// W needs. Keeps the graph for W.
std::vector<at::Tensor> backwardInput(const std::vector<at::Tensor> &roots,
                                      const std::vector<at::Tensor> &rootGrads,
                                      const std::vector<at::Tensor> &leaves,
                                      const std::vector<at::Tensor> &params,
                                      std::shared_ptr<WeightFrontier> &frontier);

/// W: adds the parameters' gradients into their .grad, as B does; frees the
/// graph.
void backwardWeight(WeightFrontier &frontier);

} // namespace ppc::rt

#endif
