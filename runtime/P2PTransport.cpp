//===- runtime/P2PTransport.cpp - Tensors by p2p, structure on the side ---===//
//
// The transport behind --backend nccl. A value is split into its structure
// (tuples, lists, ints, None, and each tensor's dtype and shape) and its
// tensors. The structure goes over a CPU side channel (a Gloo group, header
// then payload, in order per sender); the tensors go as raw buffers over a
// c10d backend's p2p send/recv (NCCL on GPUs, coalesced per value). A sender
// gives each distinct structure an id the first time it sends it to a peer,
// so later messages carry the key and id only.
//
// NCCL matches sends and receives by order, not by tag, while a rank
// consumes values in its own schedule's order. So the receiver does not post
// receives when the executor asks: one prefetch thread per peer reads that
// peer's side channel in order, allocates buffers and posts the receives in
// the sender's order, and leaves the pending value in a mailbox keyed by its
// name. Messages between two ranks use one group per direction, so no NCCL
// communicator is shared by two threads. recv() takes its entry from the
// mailbox and waits on the transfer's work on the calling thread, which for
// NCCL makes the compute stream wait for the communication stream without
// blocking the CPU; transfers overlap compute.
//
// The tensor backend is chosen by the caller: NCCL (CUDA builds), or Gloo,
// which runs the same protocol on the CPU and is how the tests exercise it.
//
//===----------------------------------------------------------------------===//
#include "runtime/PendingSends.h"
#include "runtime/Transport.h"
#include "runtime/ValueCodec.h"

#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

namespace ppc::rt {

c10::intrusive_ptr<c10d::Backend> makeNcclBackend(const c10::intrusive_ptr<c10d::Store> &store,
                                                  int rank, int worldSize,
                                                  std::chrono::milliseconds timeout);

namespace {

constexpr int kHeaderTag = 1, kPayloadTag = 2, kTensorTag = 3;
constexpr int64_t kBye = -1;
constexpr int64_t kInline = -1; // a structure sent whole, not given an id

/// Whether `skel` is only containers, tensor markers and None, so that the
/// same structure recurs from step to step.
bool holdsNoScalars(const c10::IValue &skel) {
  if (skel.isNone())
    return true;
  if (!skel.isTuple())
    return false;
  const auto &items = skel.toTupleRef().elements();
  if (!items.empty() && items[0].isString()) {
    const std::string &tag = items[0].toStringRef();
    if (tag == "__t")
      return true;
    if (tag == "__l" || tag == "__tl")
      return std::all_of(items[1].toListRef().begin(), items[1].toListRef().end(), holdsNoScalars);
    return false; // a dict (its keys are scalars) or a string in a tuple
  }
  return std::all_of(items.begin(), items.end(), holdsNoScalars);
}

class P2PTransport : public Transport {
public:
  P2PTransport(int rank, int worldSize, const std::string &addr, int port,
               std::chrono::milliseconds timeout, c10::Device device, bool nccl)
      : self(rank), world(worldSize), timeout(timeout), device(device), nccl(nccl) {
    c10d::TCPStoreOptions opts;
    opts.port = uint16_t(port);
    opts.isServer = rank == 0;
    opts.numWorkers = worldSize;
    opts.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(addr, opts);
    side = makeGloo(store, "side", addr);
    for (int d = 0; d < 2; ++d) {
      auto prefixed = c10::make_intrusive<c10d::PrefixStore>(d ? "down" : "up", store);
      tensorGroups[d] = nccl ? makeNcclBackend(prefixed, rank, worldSize, timeout)
                             : makeGloo(store, d ? "down" : "up", addr);
    }
    if (device.is_cuda())
      computeStream = c10::impl::VirtualGuardImpl(c10::kCUDA).getStream(device);
    for (int peer = 0; peer < worldSize; ++peer)
      if (peer != rank)
        prefetchers.emplace_back([this, peer] { prefetchFrom(peer); });
  }

  ~P2PTransport() override {
    try {
      for (int peer = 0; peer < world; ++peer)
        if (peer != self)
          sendHeader(peer, kBye);
      flush();
    } catch (...) {
    }
    for (std::thread &t : prefetchers)
      t.join();
    if (nccl)
      for (auto &group : tensorGroups)
        group->shutdown(); // NCCL wants its communicators closed, not just dropped
  }

  int rank() const override { return self; }
  int worldSize() const override { return world; }

  void send(const std::string &key, int dst, const c10::IValue &value) override {
    if (dst == self) {
      std::lock_guard<std::mutex> lock(mutex);
      local.put(key, value);
      return;
    }
    std::vector<at::Tensor> tensors;
    c10::IValue skel = flattenValue(value, tensors);
    if (nccl) // NCCL moves device memory only; host values (timings, grads) go through it too
      for (at::Tensor &t : tensors)
        t = t.to(device);
    std::string shape = structureBytes(skel);
    // A structure holding scalars (a loss, a grad norm, a timing) is new
    // nearly every time: it goes inline and is not remembered, or both
    // sides' tables would grow every step.
    int64_t id = kInline;
    bool isNew = true;
    if (holdsNoScalars(skel)) {
      auto &ids = sentShapes[dst];
      auto known = ids.find(shape);
      isNew = known == ids.end();
      id = isNew ? int64_t(ids.size()) : known->second;
      if (isNew)
        ids.emplace(shape, id);
    }
    std::string meta = structureBytes(c10::ivalue::Tuple::create(
        {key, id, isNew ? c10::IValue(shape) : c10::IValue(), int64_t(tensors.size())}));
    sendHeader(dst, int64_t(meta.size()));
    at::Tensor payload =
        torch::from_blob(meta.data(), {int64_t(meta.size())}, torch::kUInt8).clone();
    sendOn(*side, sideSends, payload, dst, kPayloadTag);
    sendTensors(dst, tensors);
  }

  c10::IValue recv(const std::string &key, int src) override {
    std::unique_lock<std::mutex> lock(mutex);
    if (src == self)
      return local.take(key, self);
    auto ready = [&] { return failure.size() || mailbox.count({src, key}); };
    if (!arrived.wait_for(lock, timeout, ready))
      throw TransportError("rank " + std::to_string(self) + " timed out waiting for " + key +
                           " from rank " + std::to_string(src));
    if (!mailbox.count({src, key}))
      throw TransportError(failure);
    Pending entry = std::move(mailbox.at({src, key}));
    mailbox.erase({src, key});
    lock.unlock();
    // Without a timeout NCCL's wait only makes this thread's (compute) stream
    // wait for the transfer; with one it would block the CPU.
    if (entry.work)
      entry.work->wait();
    return unflattenValue(entry.skeleton, entry.tensors);
  }

  // Its structure has come, so its tensors are on their way.
  bool hasArrived(const std::string &key, int src) override {
    std::lock_guard<std::mutex> lock(mutex);
    if (src == self)
      return local.has(key);
    return failure.size() || mailbox.count({src, key});
  }

  void abort(const std::string &why) override {
    std::lock_guard<std::mutex> lock(mutex);
    failure = why;
    arrived.notify_all();
  }

  void flush() override {
    if (!sideSends.drain(timeout) || !tensorSends.drain(timeout))
      throw TransportError("rank " + std::to_string(self) +
                           " lost a peer while waiting for a send to complete (peer died or "
                           "timed out)");
  }

private:
  struct Pending {
    c10::IValue skeleton;
    std::vector<at::Tensor> tensors;
    c10::intrusive_ptr<c10d::Work> work;
  };

  c10::intrusive_ptr<c10d::Backend> makeGloo(const c10::intrusive_ptr<c10d::Store> &store,
                                             const std::string &prefix, const std::string &addr) {
    auto pgOpts = c10d::ProcessGroupGloo::Options::create(timeout);
    pgOpts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(addr));
    return c10::make_intrusive<c10d::ProcessGroupGloo>(
        c10::make_intrusive<c10d::PrefixStore>(prefix, store), self, world, pgOpts);
  }

  /// The group that carries messages from `from` to `to`.
  c10d::Backend &groupFor(int from, int to) { return *tensorGroups[from > to ? 1 : 0]; }

  void sendOn(c10d::Backend &group, PendingSends &sends, const at::Tensor &t, int dst, int tag) {
    std::vector<at::Tensor> one{t};
    sends.add(dst, group.send(one, dst, tag), one);
  }

  void sendHeader(int dst, int64_t value) {
    sendOn(*side, sideSends, torch::tensor({value}, torch::kLong), dst, kHeaderTag);
  }

  void sendTensors(int dst, std::vector<at::Tensor> &tensors) {
    if (tensors.empty())
      return;
    c10d::Backend &group = groupFor(self, dst);
    if (!nccl) {
      for (const at::Tensor &t : tensors)
        sendOn(group, tensorSends, t, dst, kTensorTag);
      return;
    }
    group.startCoalescing();
    for (at::Tensor &t : tensors) {
      std::vector<at::Tensor> one{t};
      group.send(one, dst, kTensorTag);
    }
    tensorSends.add(dst, group.endCoalescing(), tensors);
  }

  c10::intrusive_ptr<c10d::Work> recvTensors(int src, std::vector<at::Tensor> &tensors) {
    c10d::Backend &group = groupFor(src, self);
    if (!nccl) {
      c10::intrusive_ptr<c10d::Work> last;
      for (at::Tensor &t : tensors) {
        std::vector<at::Tensor> one{t};
        last = group.recv(one, src, kTensorTag);
        waitFor(last, "a tensor", src); // Gloo: the buffers are ready when this returns
      }
      return {};
    }
    group.startCoalescing();
    for (at::Tensor &t : tensors) {
      std::vector<at::Tensor> one{t};
      group.recv(one, src, kTensorTag);
    }
    return group.endCoalescing();
  }

  /// A peer may stay silent for longer than the job's timeout (it has nothing
  /// to send this rank), so the side channel waits as long as it takes; a
  /// dead peer still ends the wait at once, as its connection closes.
  at::Tensor recvSide(int src, at::Tensor buffer, int tag) {
    std::vector<at::Tensor> one{buffer};
    side->recv(one, src, tag)->wait(std::chrono::hours(24 * 365));
    return buffer;
  }

  /// Reads `src`'s messages in the order it sent them and posts their receives.
  void prefetchFrom(int src) {
    try {
      if (computeStream) { // allocations and receives run against the compute stream
        c10::impl::VirtualGuardImpl impl(c10::kCUDA);
        impl.setDevice(device);
        impl.exchangeStream(*computeStream);
      }
      std::map<int64_t, c10::IValue> shapes;
      while (true) {
        int64_t size = recvSide(src, torch::empty({1}, torch::kLong), kHeaderTag).item<int64_t>();
        if (size == kBye)
          return;
        at::Tensor payload = recvSide(src, torch::empty({size}, torch::kUInt8), kPayloadTag);
        const char *data = static_cast<const char *>(payload.data_ptr());
        auto meta = structureFromBytes(data, size_t(size)).toTuple();
        const auto &items = meta->elements();
        int64_t id = items[1].toInt();
        Pending entry;
        if (!items[2].isNone()) {
          const std::string &bytes = items[2].toStringRef();
          entry.skeleton = structureFromBytes(bytes.data(), bytes.size());
          if (id != kInline)
            shapes[id] = entry.skeleton;
        } else {
          entry.skeleton = shapes.at(id);
        }
        entry.tensors = allocateTensors(entry.skeleton, nccl ? device : c10::Device(c10::kCPU));
        entry.work = recvTensors(src, entry.tensors);
        std::lock_guard<std::mutex> lock(mutex);
        mailbox[{src, items[0].toStringRef()}] = std::move(entry);
        arrived.notify_all();
      }
    } catch (const std::exception &) {
      std::lock_guard<std::mutex> lock(mutex);
      if (failure.empty())
        failure = "rank " + std::to_string(self) + " lost rank " + std::to_string(src) +
                  " (peer died or timed out)";
      arrived.notify_all();
    }
  }

  void waitFor(const c10::intrusive_ptr<c10d::Work> &work, const std::string &what, int src) {
    try {
      work->wait(timeout);
    } catch (const std::exception &) {
      std::string peer = src < 0 ? "a peer" : "rank " + std::to_string(src);
      throw TransportError("rank " + std::to_string(self) + " lost " + peer +
                           " while waiting for " + what + " (peer died or timed out)");
    }
  }

  int self, world;
  std::chrono::milliseconds timeout;
  c10::Device device;
  bool nccl;
  std::optional<c10::Stream> computeStream;
  c10::intrusive_ptr<c10d::Backend> side;
  c10::intrusive_ptr<c10d::Backend> tensorGroups[2];
  std::map<int, std::map<std::string, int64_t>> sentShapes; // per peer: structure -> id
  // Sends in flight with their buffers; declared after the groups, so they
  // stop before the groups go.
  PendingSends sideSends{/*pollable=*/false};
  PendingSends tensorSends{/*pollable=*/nccl};
  std::mutex mutex;
  std::condition_variable arrived;
  std::map<std::pair<int, std::string>, Pending> mailbox;
  LocalMailbox local;
  std::string failure;
  std::vector<std::thread> prefetchers;
};

} // namespace

std::unique_ptr<Transport> makeP2PTransport(int rank, int worldSize, const std::string &addr,
                                            int port, std::chrono::milliseconds timeout,
                                            c10::Device device, bool nccl) {
  return std::make_unique<P2PTransport>(rank, worldSize, addr, port, timeout, device, nccl);
}

} // namespace ppc::rt
