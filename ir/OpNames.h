//===- ir/OpNames.h - Op kinds that ppc itself creates ----------*- C++ -*-===//
//
// Ops that passes insert and codegen lowers back, named in one place so that
// neither side spells them on its own.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_IR_OPNAMES_H
#define PPC_IR_OPNAMES_H

namespace ppc {

/// A copy of a value that a stage writes in place while another stage also
/// holds it (passes/MutationSafety); lowered to aten::clone for tensors and aten::list for lists.
inline constexpr const char *kCloneOp = "ppc::clone";

} // namespace ppc

#endif
