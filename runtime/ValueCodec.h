//===- runtime/ValueCodec.h - A value as structure plus raw tensors -*- C++ -*-===//
//
// The process transports move a value (tuples, lists, dicts, ints, None and
// tensors) as two parts: its structure, pickled, with every tensor replaced
// by a marker holding its index, dtype and shape; and the tensors themselves,
// sent straight from their own memory. The receiver allocates each tensor
// from the structure and receives into it, so no pickled copy of the data
// exists on either side.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_VALUECODEC_H
#define PPC_RUNTIME_VALUECODEC_H

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

namespace ppc::rt {

/// The structure of `value`; its defined tensors (made contiguous) are
/// appended to `tensors` in the order their markers name them.
c10::IValue flattenValue(const c10::IValue &value, std::vector<at::Tensor> &tensors);

/// The value that `flattenValue` took apart, rebuilt around `tensors`.
c10::IValue unflattenValue(const c10::IValue &structure, const std::vector<at::Tensor> &tensors);

/// Uninitialised tensors shaped as the structure's markers say, in index order.
std::vector<at::Tensor> allocateTensors(const c10::IValue &structure, c10::Device device);

/// A structure (tensor-free) as bytes and back.
std::string structureBytes(const c10::IValue &structure);
c10::IValue structureFromBytes(const char *data, size_t size);

} // namespace ppc::rt

#endif
