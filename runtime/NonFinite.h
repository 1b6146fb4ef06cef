//===- runtime/NonFinite.h - Stopping a run at a non-finite step -*- C++ -*-===//
//
// A NaN or an infinity in the loss or a gradient stops a training run at the
// step it appears in, before the optimizer steps, so the weights and the last
// checkpoint stay good. Every rank sees the same global gradient norm (the
// loss rank folds the loss's finiteness into it), so all of them stop at the
// same step; rank 0 then learns from every rank which of its stages produced
// non-finite forward outputs or gradients and names the first.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_NONFINITE_H
#define PPC_RUNTIME_NONFINITE_H

#include "runtime/Executor.h"

#include <string>

namespace ppc::rt {

/// What the loss rank adds to the squared gradient norm so that a
/// non-finite loss makes the norm non-finite on every rank: 0 or NaN.
double lossFinitenessTerm(const Executor &ex);

/// Called by every rank at a step whose gradient norm is not finite. Rank 0
/// gets the one-line reason naming the step and the first stage that
/// produced a non-finite value; the other ranks get "".
std::string nonFiniteReason(Executor &ex, Transport &t, int step, double gradNorm);

} // namespace ppc::rt

#endif
