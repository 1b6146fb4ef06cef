//===- runtime/PendingSends.cpp - Buffers of sends in flight --------------===//
//
// See PendingSends.h. A waiter blocks in the work's wait(), which for Gloo
// ends when the data has left, when the connection fails, or after the
// group's timeout; a failed send is kept with its buffers (Gloo may still
// read them) and reported by the next drain. Sends that are over are freed
// by the caller after it has let go of the lock.
//
//===----------------------------------------------------------------------===//
#include "runtime/PendingSends.h"

#include <algorithm>
#include <iterator>

namespace ppc::rt {

PendingSends::~PendingSends() {
  {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    for (auto &[peer, d] : destinations)
      for (Send &s : d->sends)
        try {
          s.work->abort(); // ends a wait for a receiver that will never come
        } catch (...) {
        }
  }
  changed.notify_all();
  for (auto &[peer, d] : destinations)
    d->waiter.join();
}

void PendingSends::add(int peer, c10::intrusive_ptr<c10d::Work> work,
                       std::vector<at::Tensor> buffers) {
  std::vector<Send> done;
  std::lock_guard<std::mutex> lock(mutex);
  if (pollable) {
    auto over = std::stable_partition(polled.begin(), polled.end(),
                                      [](const Send &s) { return !s.work->isCompleted(); });
    std::move(over, polled.end(), std::back_inserter(done));
    polled.erase(over, polled.end());
    polled.push_back({std::move(work), std::move(buffers)});
    return; // `done` is freed after the lock, declared before it
  }
  takeFinished(done);
  std::unique_ptr<Destination> &d = destinations[peer];
  if (!d) {
    d = std::make_unique<Destination>();
    d->waiter = std::thread([this, dest = d.get()] { waitInOrder(*dest); });
  }
  d->sends.push_back({std::move(work), std::move(buffers)});
  changed.notify_all();
}

void PendingSends::waitInOrder(Destination &d) {
  std::unique_lock<std::mutex> lock(mutex);
  while (true) {
    changed.wait(lock, [&] { return stopping || d.waited < d.sends.size(); });
    if (d.waited == d.sends.size())
      return;
    c10::intrusive_ptr<c10d::Work> work = d.sends[d.waited].work;
    lock.unlock();
    bool ok = true;
    try {
      ok = work->wait();
    } catch (...) {
      ok = false;
    }
    work.reset(); // not the last reference: the entry keeps its own
    lock.lock();
    if (!ok && !stopping)
      failed = d.sends[d.waited].failed = true;
    ++d.waited;
    changed.notify_all();
  }
}

void PendingSends::takeFinished(std::vector<Send> &done) {
  for (auto &[peer, d] : destinations) {
    for (; d->waited > 0; --d->waited) {
      Send &s = d->sends.front();
      (s.failed ? failures : done).push_back(std::move(s));
      d->sends.pop_front();
    }
  }
}

bool PendingSends::allWaited() const {
  for (const auto &[peer, d] : destinations)
    if (d->waited < d->sends.size())
      return false;
  return true;
}

bool PendingSends::drain(std::chrono::milliseconds timeout) {
  std::vector<Send> done, toWait;
  std::unique_lock<std::mutex> lock(mutex);
  bool over = changed.wait_for(lock, timeout, [&] { return failed || allWaited(); });
  bool ok = over && !failed;
  takeFinished(done);
  toWait.swap(polled);
  lock.unlock();
  if (!ok)
    return false;
  for (Send &s : toWait)
    try {
      s.work->wait(timeout);
    } catch (...) {
      return false;
    }
  return true;
}

} // namespace ppc::rt
