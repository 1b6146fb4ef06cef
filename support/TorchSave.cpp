//===- support/TorchSave.cpp - torch.save files in C++ --------------------===//
//
// Writing goes through a Pickler with aggregate type tags off: the tags
// (torch.jit._pickle.restore_type_tag) are globals that torch.load's
// weights-only unpickler refuses, and a plain dict of tensors needs none.
//
//===----------------------------------------------------------------------===//
#include "support/TorchSave.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>

#include <fstream>
#include <iterator>
#include <stdexcept>

using namespace ppc;

c10::IValue ppc::readTorchSave(const std::string &path) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    throw std::runtime_error("'" + path + "' not found");
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), {});
  try {
    return torch::pickle_load(bytes);
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

void ppc::writeTorchSave(const std::string &path, const c10::IValue &value) {
  std::vector<char> pkl;
  torch::jit::Pickler pickler(
      [&](const char *data, size_t size) { pkl.insert(pkl.end(), data, data + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr,
      /*memoized_class_types=*/nullptr, /*get_tensor_id=*/nullptr,
      /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(value);
  pickler.stop();
  std::ofstream file(path, std::ios::binary);
  if (!file)
    throw std::runtime_error("cannot write '" + path + "'");
  caffe2::serialize::PyTorchStreamWriter writer([&](const void *data, size_t size) {
    file.write(static_cast<const char *>(data), std::streamsize(size));
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pkl.data(), pkl.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  if (!file)
    throw std::runtime_error("cannot write '" + path + "'");
}
