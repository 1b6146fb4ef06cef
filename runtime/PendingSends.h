//===- runtime/PendingSends.h - Buffers of sends in flight ------*- C++ -*-===//
//
// An asynchronous send reads its tensors until it completes, so they must
// live until then, and no longer: a transport that kept them to the end of
// the run would grow by every value it sent. NCCL's work objects say when
// they are done (isCompleted queries their CUDA event), so those are polled.
// Gloo's send work says so only once somebody has waited on it, so Gloo
// sends are waited for, in order, by one thread per destination; the
// caller's next send or drain drops what has completed. So a sent tensor
// is held until the receiver has taken it (and the sender sends again), as
// a thread rank holds it. The waiting threads never free a tensor: one made
// in Python would need the GIL, which the caller may hold while it waits.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_RUNTIME_PENDINGSENDS_H
#define PPC_RUNTIME_PENDINGSENDS_H

#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ppc::rt {

class PendingSends {
public:
  /// `pollable`: the work objects report completion without a wait (NCCL).
  explicit PendingSends(bool pollable) : pollable(pollable) {}
  /// Aborts the sends still in flight (a failed job's) and stops the threads.
  ~PendingSends();
  PendingSends(const PendingSends &) = delete;
  PendingSends &operator=(const PendingSends &) = delete;

  void add(int peer, c10::intrusive_ptr<c10d::Work> work, std::vector<at::Tensor> buffers);

  /// Waits until every send so far has completed; false when one failed or
  /// `timeout` passed first.
  bool drain(std::chrono::milliseconds timeout);

private:
  struct Send {
    c10::intrusive_ptr<c10d::Work> work;
    std::vector<at::Tensor> buffers;
    bool failed = false;
  };
  struct Destination {
    std::deque<Send> sends;
    size_t waited = 0; // the first `waited` sends are over
    std::thread waiter;
  };

  void waitInOrder(Destination &d);
  bool allWaited() const;
  /// Moves the sends that are over into `done` (freed by the caller, unlocked).
  void takeFinished(std::vector<Send> &done);

  bool pollable;
  std::mutex mutex;
  std::condition_variable changed;
  bool stopping = false, failed = false;
  std::map<int, std::unique_ptr<Destination>> destinations;
  std::vector<Send> polled;   // pollable sends not yet seen complete
  std::vector<Send> failures; // kept: their buffers may still be read
};

} // namespace ppc::rt

#endif
