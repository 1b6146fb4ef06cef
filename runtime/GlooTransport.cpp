//===- runtime/GlooTransport.cpp - Ranks as processes over Gloo -----------===//
//
// c10d TCPStore + ProcessGroupGloo. A value goes as its structure (pickled,
// tensors replaced by their dtype and shape: ValueCodec.h) in a fixed-size
// header, then each tensor straight from its own memory; the receiver
// allocates the tensors from the structure and receives into them. So no
// pickled copy of the data exists on either side, and a rank holds a sent
// tensor only until the receiver has taken it, as with thread ranks. All of a
// key's messages share one tag pair; Gloo matches by tag, in order within a
// tag, so values may arrive in any order. Values a rank sends to itself stay
// in a local mailbox.
//
//===----------------------------------------------------------------------===//
#include "runtime/PendingSends.h"
#include "runtime/Transport.h"
#include "runtime/ValueCodec.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

namespace ppc::rt {
namespace {

class GlooTransport : public Transport {
public:
  GlooTransport(int rank, int worldSize, const std::string &addr, int port,
                std::chrono::milliseconds timeout)
      : self(rank), world(worldSize), timeout(timeout) {
    c10d::TCPStoreOptions opts;
    opts.port = uint16_t(port);
    // Under torchrun the agent already serves the store on MASTER_PORT (rank 0 would fail
    // to bind it, and TCPStore logs that before falling back to the agent's).
    const char *agentStore = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    opts.isServer = rank == 0 && !(agentStore && std::string(agentStore) == "True");
    opts.numWorkers = worldSize;
    opts.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(addr, opts);
    auto pgOpts = c10d::ProcessGroupGloo::Options::create(timeout);
    pgOpts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(addr));
    group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, worldSize, pgOpts);
  }

  int rank() const override { return self; }
  int worldSize() const override { return world; }

  void send(const std::string &key, int dst, const c10::IValue &value) override {
    if (dst == self) {
      local.put(key, value);
      return;
    }
    std::vector<at::Tensor> tensors;
    std::string structure = structureBytes(flattenValue(value, tensors));
    int tag = tagOf(key);
    // Sends do not wait for the receiver: blocking sends between ranks that
    // each wait on another would deadlock. `pending` keeps the buffers.
    sendOn(headerFor(structure), dst, tag);
    if (structure.size() > kInlineBytes)
      sendOn(bytesOf(structure), dst, tag + 1);
    for (const at::Tensor &t : tensors)
      sendOn(t, dst, tag + 1);
  }

  void flush() override {
    if (!pending.drain(timeout))
      throw TransportError("rank " + std::to_string(self) +
                           " lost a peer while waiting for a send to complete (peer died or "
                           "timed out)");
  }

  c10::IValue recv(const std::string &key, int src) override {
    if (src == self)
      return local.take(key, self);
    int tag = tagOf(key);
    at::Tensor header = recvOn(at::empty({kHeaderBytes}, at::kByte), key, src, tag);
    const char *headerData = static_cast<const char *>(header.data_ptr());
    int64_t size;
    std::memcpy(&size, headerData, sizeof size);
    at::Tensor bytes;
    if (size > kInlineBytes)
      bytes = recvOn(at::empty({size}, at::kByte), key, src, tag + 1);
    const char *data =
        bytes.defined() ? static_cast<const char *>(bytes.data_ptr()) : headerData + sizeof size;
    c10::IValue structure = structureFromBytes(data, size_t(size));
    std::vector<at::Tensor> tensors = allocateTensors(structure, c10::Device(c10::kCPU));
    for (at::Tensor &t : tensors)
      recvOn(t, key, src, tag + 1);
    return unflattenValue(structure, tensors);
  }

  void abort(const std::string &) override {} // the launcher stops the other processes

  ~GlooTransport() override {
    try {
      flush();
    } catch (...) {
    }
  }

private:
  // A value's structure rides in its fixed-size header when it fits (a
  // tensor or a small tuple does), so most values cost one message plus one
  // per tensor.
  static constexpr int64_t kHeaderBytes = 1024, kInlineBytes = kHeaderBytes - 8;

  static at::Tensor bytesOf(const std::string &bytes) {
    at::Tensor t = at::empty({int64_t(bytes.size())}, at::kByte);
    std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
    return t;
  }

  static at::Tensor headerFor(const std::string &structure) {
    at::Tensor header = at::zeros({kHeaderBytes}, at::kByte);
    auto *data = static_cast<char *>(header.data_ptr());
    int64_t size = int64_t(structure.size());
    std::memcpy(data, &size, sizeof size);
    if (structure.size() <= size_t(kInlineBytes))
      std::memcpy(data + sizeof size, structure.data(), structure.size());
    return header;
  }

  static int tagOf(const std::string &key) {
    return int(std::hash<std::string>{}(key) % (1u << 29)) * 2;
  }

  void sendOn(const at::Tensor &t, int dst, int tag) {
    std::vector<at::Tensor> one{t};
    pending.add(dst, group->send(one, dst, tag), one);
  }

  at::Tensor recvOn(at::Tensor buffer, const std::string &key, int src, int tag) {
    std::vector<at::Tensor> one{buffer};
    waitFor(group->recv(one, src, tag), key, src);
    return buffer;
  }

  void waitFor(c10::intrusive_ptr<c10d::Work> work, const std::string &key, int src) {
    try {
      work->wait(timeout);
    } catch (const std::exception &e) {
      std::string peer = src < 0 ? "a peer" : "rank " + std::to_string(src);
      throw TransportError("rank " + std::to_string(self) + " lost " + peer +
                           " while waiting for " + key + " (peer died or timed out)");
    }
  }

  int self, world;
  std::chrono::milliseconds timeout;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
  LocalMailbox local;
  PendingSends pending{/*pollable=*/false};
};

} // namespace

std::unique_ptr<Transport> makeGlooTransport(int rank, int worldSize, const std::string &addr,
                                             int port, std::chrono::milliseconds timeout) {
  return std::make_unique<GlooTransport>(rank, worldSize, addr, port, timeout);
}

} // namespace ppc::rt
