//===- runtime/GlooTransport.cpp - Ranks as processes over Gloo -----------===//
//
// c10d TCPStore + ProcessGroupGloo. A value is pickled (torch::pickle_save,
// so ints, tuples, None and tensors of any shape travel alike) and sent as a
// length header then the bytes, each under a tag derived from the key; Gloo
// matches by tag, so messages may arrive in any order. Values a rank sends
// to itself stay in a local mailbox.
//
//===----------------------------------------------------------------------===//
#include "runtime/Transport.h"

#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/jit/serialization/pickle.h>

#include <algorithm>
#include <cstdlib>
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
    std::vector<char> bytes = torch::jit::pickle_save(value);
    std::vector<at::Tensor> header{torch::tensor({int64_t(bytes.size())}, torch::kLong)};
    std::vector<at::Tensor> payload{
        torch::from_blob(bytes.data(), {int64_t(bytes.size())}, torch::kUInt8).clone()};
    int tag = tagOf(key);
    // Sends do not wait for the receiver: blocking sends between ranks that
    // each wait on another would deadlock. The work objects keep the buffers.
    pending.push_back(group->send(header, dst, tag));
    pending.push_back(group->send(payload, dst, tag + 1));
    eraseCompleted();
  }

  void flush() override {
    for (auto &work : pending)
      waitFor(work, "a send to complete", -1);
    pending.clear();
  }

  c10::IValue recv(const std::string &key, int src) override {
    if (src == self)
      return local.take(key, self);
    int tag = tagOf(key);
    std::vector<at::Tensor> header{torch::empty({1}, torch::kLong)};
    waitFor(group->recv(header, src, tag), key, src);
    std::vector<at::Tensor> payload{torch::empty({header[0].item<int64_t>()}, torch::kUInt8)};
    waitFor(group->recv(payload, src, tag + 1), key, src);
    const char *data = static_cast<const char *>(payload[0].data_ptr());
    return torch::jit::pickle_load(std::vector<char>(data, data + payload[0].numel()));
  }

  void abort(const std::string &) override {} // the launcher stops the other processes

  ~GlooTransport() override {
    try {
      flush();
    } catch (...) {
    }
  }

private:
  static int tagOf(const std::string &key) {
    return int(std::hash<std::string>{}(key) % (1u << 29)) * 2;
  }

  void eraseCompleted() {
    pending.erase(std::remove_if(pending.begin(), pending.end(),
                                 [](const auto &w) { return w->isCompleted(); }),
                  pending.end());
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
  std::vector<c10::intrusive_ptr<c10d::Work>> pending;
};

} // namespace

std::unique_ptr<Transport> makeGlooTransport(int rank, int worldSize, const std::string &addr,
                                             int port, std::chrono::milliseconds timeout) {
  return std::make_unique<GlooTransport>(rank, worldSize, addr, port, timeout);
}

} // namespace ppc::rt
