//===- runtime/DataSource.cpp - A batch for every training step -----------===//
//
// Token files are read a window at a time (never whole: they may be larger
// than memory), from a stream opened per call so that rank threads can read
// at once.
//
//===----------------------------------------------------------------------===//
#include "runtime/DataSource.h"

#include "support/TorchSave.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

using namespace ppc::rt;
namespace fs = std::filesystem;

int64_t ppc::rt::tokenOffset(int64_t step, int64_t tokens, int64_t perBatch, int64_t shuffleSeed) {
  auto windows = uint64_t(tokens - perBatch);
  if (shuffleSeed < 0)
    return int64_t((uint64_t(step) * uint64_t(perBatch)) % windows);
  std::mt19937_64 draw(uint64_t(shuffleSeed) + uint64_t(step));
  return int64_t(draw() % windows);
}

namespace {

class TokenFile : public DataSource {
public:
  TokenFile(const DataOptions &o) : o(o) {
    if (o.dtype != "uint16" && o.dtype != "int32")
      throw std::runtime_error("--data-dtype must be uint16 or int32, not '" + o.dtype + "'");
    if (o.seq < 1 || o.batch < 1)
      throw std::runtime_error("--data with a token file needs --seq T and --batch B (at least 1)");
    width = o.dtype == "uint16" ? 2 : 4;
    std::error_code ec;
    auto bytes = fs::file_size(o.path, ec);
    if (ec)
      throw std::runtime_error("--data '" + o.path + "' cannot be read: " + ec.message());
    tokens = int64_t(bytes / width);
    if (tokens <= tokensPerBatch())
      throw std::runtime_error("--data '" + o.path + "' holds " + std::to_string(tokens) + " " +
                               o.dtype + " tokens; --batch " + std::to_string(o.batch) + " --seq " +
                               std::to_string(o.seq) + " needs more than " +
                               std::to_string(tokensPerBatch()));
  }

  int64_t tokensPerBatch() const override { return o.batch * o.seq; }

  Batch batch(int64_t step) const override {
    int64_t n = tokensPerBatch();
    int64_t offset = tokenOffset(step, tokens, n, o.shuffleSeed);
    std::vector<char> raw(size_t((n + 1) * width));
    std::ifstream file(o.path, std::ios::binary);
    file.seekg(std::streamoff(offset * width));
    file.read(raw.data(), std::streamsize(raw.size()));
    if (!file)
      throw std::runtime_error("cannot read tokens " + std::to_string(offset) + ".." +
                               std::to_string(offset + n + 1) + " of '" + o.path + "'");
    at::Tensor ids = at::empty({n + 1}, at::kLong);
    auto *out = ids.data_ptr<int64_t>();
    for (int64_t i = 0; i <= n; ++i)
      out[i] = width == 2 ? int64_t(reinterpret_cast<const uint16_t *>(raw.data())[i])
                          : int64_t(reinterpret_cast<const int32_t *>(raw.data())[i]);
    Batch b;
    b.inputs = {ids.slice(0, 0, n).reshape({o.batch, o.seq})};
    b.targets = ids.slice(0, 1, n + 1).reshape({o.batch, o.seq});
    b.origin = "tokens " + std::to_string(offset) + ".." + std::to_string(offset + n + 1) +
               " of '" + o.path + "'";
    return b;
  }

private:
  DataOptions o;
  int64_t width = 2;
  int64_t tokens = 0;
};

class BatchFiles : public DataSource {
public:
  BatchFiles(const std::string &dir) {
    for (const auto &entry : fs::directory_iterator(dir))
      if (entry.is_regular_file())
        files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    if (files.empty())
      throw std::runtime_error("--data directory '" + dir + "' holds no batch files");
  }

  Batch batch(int64_t step) const override {
    const std::string &path = files[size_t(step % int64_t(files.size()))];
    c10::IValue v = ppc::readTorchSave(path);
    bool ok = v.isGenericDict() && v.toGenericDict().contains("inputs") &&
              v.toGenericDict().contains("targets") && v.toGenericDict().at("targets").isTensor();
    if (!ok)
      throw std::runtime_error("batch file '" + path +
                               "' must hold {\"inputs\": (...), \"targets\": tensor}");
    auto dict = v.toGenericDict();
    c10::IValue inputs = dict.at("inputs");
    Batch b;
    if (inputs.isTuple())
      b.inputs = inputs.toTupleRef().elements().vec();
    else if (inputs.isList())
      b.inputs = inputs.toListRef().vec();
    else
      b.inputs = {inputs};
    b.targets = dict.at("targets").toTensor();
    b.origin = "'" + path + "'";
    return b;
  }

private:
  std::vector<std::string> files;
};

} // namespace

std::unique_ptr<DataSource> ppc::rt::openDataSource(const DataOptions &o) {
  std::error_code ec;
  if (!fs::exists(o.path, ec))
    throw std::runtime_error("--data '" + o.path + "' does not exist");
  if (fs::is_directory(o.path, ec))
    return std::make_unique<BatchFiles>(o.path);
  return std::make_unique<TokenFile>(o);
}
