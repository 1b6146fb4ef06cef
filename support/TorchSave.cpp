//===- support/TorchSave.cpp - Reading torch.save files in C++ ------------===//
//
// The archive is re-packed in memory with a patched data.pkl: after the
// top-level EMPTY_DICT and its memo put, a MARK is inserted, and the final
// SETITEM becomes SETITEMS, which pops back to that mark. Tensor records are
// copied as they are.
//
//===----------------------------------------------------------------------===//
#include "support/TorchSave.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/serialize.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

using namespace ppc;

namespace {

/// data.pkl with a top-level one-key dict made SETITEMS; unchanged otherwise.
std::string patchSingleSetItem(std::string pkl) {
  // PROTO 2 is "\x80\x02"; then EMPTY_DICT '}' and BINPUT 'q' n (or LONG_BINPUT 'r' nnnn).
  if (pkl.size() < 6 || pkl[0] != '\x80' || pkl[2] != '}' || pkl.substr(pkl.size() - 2) != "s.")
    return pkl;
  size_t afterMemo = pkl[3] == 'q' ? 5 : pkl[3] == 'r' ? 8 : 3;
  pkl[pkl.size() - 2] = 'u';
  pkl.insert(afterMemo, 1, '(');
  return pkl;
}

std::vector<char> repack(caffe2::serialize::PyTorchStreamReader &reader, const std::string &pkl) {
  std::vector<char> out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void *data, size_t size) {
    const char *bytes = static_cast<const char *>(data);
    out.insert(out.end(), bytes, bytes + size);
    return size;
  });
  for (const std::string &name : reader.getAllRecords()) {
    if (name == "data.pkl") {
      writer.writeRecord(name, pkl.data(), pkl.size());
      continue;
    }
    auto [data, size] = reader.getRecord(name);
    writer.writeRecord(name, data.get(), size);
  }
  writer.writeEndOfFile();
  return out;
}

} // namespace

c10::IValue ppc::readTorchSave(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw std::runtime_error("'" + path + "' not found");
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), {});
  try {
    return torch::pickle_load(bytes);
  } catch (const std::exception &) {
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    auto [data, size] = reader.getRecord("data.pkl");
    std::string pkl(static_cast<const char *>(data.get()), size);
    std::string patched = patchSingleSetItem(pkl);
    if (patched != pkl)
      return torch::pickle_load(repack(reader, patched));
  } catch (const std::exception &) {
  }
  throw std::runtime_error("'" + path + "' is not a torch.save file that LibTorch can read");
}

std::vector<c10::IValue> ppc::readSavedValues(const std::string &path) {
  c10::IValue v = readTorchSave(path);
  if (v.isGenericDict()) {
    auto dict = v.toGenericDict();
    if (!dict.contains("inputs"))
      throw std::runtime_error("'" + path + "' has no \"inputs\" entry");
    v = dict.at("inputs");
  }
  if (v.isTuple())
    return v.toTupleRef().elements().vec();
  if (v.isList())
    return v.toListRef().vec();
  return {v};
}
