//===- runtime/ThreadTransport.cpp - Ranks as threads of one process ------===//
//
// A mailbox per (destination, sender) pair, guarded by one mutex and condition
// variable. Values pass by reference (a tensor is not copied). A failing
// rank calls abort(), which wakes every waiter so the job ends promptly.
//
//===----------------------------------------------------------------------===//
#include "runtime/Transport.h"

#include <condition_variable>
#include <map>
#include <mutex>

namespace ppc::rt {

class ThreadHub {
public:
  ThreadHub(int worldSize, std::chrono::milliseconds timeout)
      : worldSize(worldSize), timeout(timeout) {}

  void put(const std::string &key, int src, int dst, const c10::IValue &value) {
    std::lock_guard<std::mutex> lock(mutex);
    boxes[{dst, src, key}] = value;
    arrived.notify_all();
  }

  c10::IValue take(const std::string &key, int dst, int src) {
    std::unique_lock<std::mutex> lock(mutex);
    auto ready = [&] { return failed || boxes.count({dst, src, key}); };
    if (!arrived.wait_for(lock, timeout, ready))
      throw TransportError("rank " + std::to_string(dst) + " timed out after " +
                           std::to_string(timeout.count() / 1000) + " s waiting for " + key +
                           " from rank " + std::to_string(src));
    if (failed)
      throw TransportError("stopped: " + failure);
    auto it = boxes.find({dst, src, key});
    c10::IValue v = std::move(it->second);
    boxes.erase(it);
    return v;
  }

  bool has(const std::string &key, int dst, int src) {
    std::lock_guard<std::mutex> lock(mutex);
    return failed || boxes.count({dst, src, key}) > 0;
  }

  void abort(const std::string &why) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failed)
      failure = why;
    failed = true;
    arrived.notify_all();
  }

  const int worldSize;

private:
  std::chrono::milliseconds timeout;
  std::mutex mutex;
  std::condition_variable arrived;
  std::map<std::tuple<int, int, std::string>, c10::IValue> boxes; // (dst, src, key)
  bool failed = false;
  std::string failure;
};

namespace {

class ThreadTransport : public Transport {
public:
  ThreadTransport(std::shared_ptr<ThreadHub> hub, int rank) : hub(std::move(hub)), self(rank) {}
  int rank() const override { return self; }
  int worldSize() const override { return hub->worldSize; }
  void send(const std::string &key, int dst, const c10::IValue &value) override {
    hub->put(key, self, dst, value);
  }
  c10::IValue recv(const std::string &key, int src) override { return hub->take(key, self, src); }
  bool hasArrived(const std::string &key, int src) override { return hub->has(key, self, src); }
  void abort(const std::string &why) override { hub->abort(why); }

private:
  std::shared_ptr<ThreadHub> hub;
  int self;
};

} // namespace

std::shared_ptr<ThreadHub> makeThreadHub(int worldSize, std::chrono::milliseconds timeout) {
  return std::make_shared<ThreadHub>(worldSize, timeout);
}

std::unique_ptr<Transport> makeThreadTransport(std::shared_ptr<ThreadHub> hub, int rank) {
  return std::make_unique<ThreadTransport>(std::move(hub), rank);
}

} // namespace ppc::rt
