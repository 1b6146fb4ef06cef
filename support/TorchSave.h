//===- support/TorchSave.h - torch.save files in C++ ------------*- C++ -*-===//
//
// Reading and writing the files Python's torch.save and torch.load use.
// Files ppc writes hold plain tuples, lists and dicts (no TorchScript type
// tags), so Python's torch.load reads them with its default
// weights_only=True.
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

/// Writes `value` as torch.save would; throws std::runtime_error naming the file.
void writeTorchSave(const std::string &path, const c10::IValue &value);

} // namespace ppc

#endif
