//===- runtime/Transport.h - Moving values between ranks --------*- C++ -*-===//
//
// One interface for every transport: a rank sends a value (tensor, int,
// tuple, list, None) under a key to another rank, or to itself, and the
// receiver waits for that key from that sender. Keys name the value, the
// microbatch and the direction, so a skip edge goes straight from producer
// to consumer and messages may arrive in any order. Every wait has a
// timeout; a failure anywhere aborts the waits of the others.
//   threads: ranks are threads of one process; values pass by reference.
//   gloo:    ranks are processes; c10d TCPStore + ProcessGroupGloo, values
//            pickled.
//   nccl:    ranks are processes; tensors by p2p over NCCL, structure over
//            a Gloo side channel (P2PTransport.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_TRANSPORT_H
#define PPC_RUNTIME_TRANSPORT_H

#include <ATen/core/ivalue.h>
#include <c10/core/Device.h>

#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

namespace ppc::rt {

/// A wait that ran out of time or was aborted because another rank failed.
class TransportError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class Transport {
public:
  virtual ~Transport() = default;
  virtual int rank() const = 0;
  virtual int worldSize() const = 0;
  virtual void send(const std::string &key, int dst, const c10::IValue &value) = 0;
  virtual c10::IValue recv(const std::string &key, int src) = 0;
  /// Whether the sender has already sent `key`, so that recv would not wait
  /// for it. Transports that cannot tell without receiving say true.
  virtual bool hasArrived(const std::string &key, int src) { return true; }
  /// Marks the job failed so that every pending and later wait throws.
  virtual void abort(const std::string &why) = 0;
  /// Waits until every value sent so far has left this rank.
  virtual void flush() {}
};

/// Values a process rank sends to itself (its stages talking to each other).
class LocalMailbox {
public:
  void put(const std::string &key, const c10::IValue &value) { values[key] = value; }
  bool has(const std::string &key) const { return values.count(key) > 0; }
  c10::IValue take(const std::string &key, int rank) {
    auto it = values.find(key);
    if (it == values.end())
      throw TransportError("rank " + std::to_string(rank) + " has no local value " + key);
    c10::IValue v = std::move(it->second);
    values.erase(it);
    return v;
  }

private:
  std::map<std::string, c10::IValue> values;
};

/// The shared state of the thread ranks of one process.
class ThreadHub;

std::shared_ptr<ThreadHub> makeThreadHub(int worldSize, std::chrono::milliseconds timeout);
std::unique_ptr<Transport> makeThreadTransport(std::shared_ptr<ThreadHub> hub, int rank);

/// Joins the Gloo group described by RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT.
std::unique_ptr<Transport> makeGlooTransport(int rank, int worldSize, const std::string &addr,
                                             int port, std::chrono::milliseconds timeout);

/// Joins the same group for tensors by p2p send/recv: over NCCL on `device`
/// (a CUDA build of LibTorch), or with `nccl` false over Gloo on the CPU.
std::unique_ptr<Transport> makeP2PTransport(int rank, int worldSize, const std::string &addr,
                                            int port, std::chrono::milliseconds timeout,
                                            c10::Device device, bool nccl);

} // namespace ppc::rt

#endif
