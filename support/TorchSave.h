//===- support/TorchSave.h - Reading torch.save files in C++ ----*- C++ -*-===//
//
// torch::pickle_load of LibTorch 1.13 rejects the SETITEM opcode that Python
// writes for a dict with a single key, which is exactly what
// torch.save({"inputs": (x,)}) produces. readTorchSave rewrites that one
// case (a top-level one-key dict) into the SETITEMS form it accepts and
// otherwise defers to torch::pickle_load.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_SUPPORT_TORCHSAVE_H
#define PPC_SUPPORT_TORCHSAVE_H

#include <ATen/core/ivalue.h>

#include <string>
#include <vector>

namespace ppc {

/// The object in a torch.save file; throws std::runtime_error naming the file.
c10::IValue readTorchSave(const std::string &path);

/// The values of an inputs file: the "inputs" entry of a dict (other keys
/// ignored), the items of a tuple or list, or the single value.
std::vector<c10::IValue> readSavedValues(const std::string &path);

} // namespace ppc

#endif
