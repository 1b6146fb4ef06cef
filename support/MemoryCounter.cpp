//===- support/MemoryCounter.cpp - Live CPU tensor bytes per owner --------===//
//
// See MemoryCounter.h. LibTorch uses the CPU allocator's raw interface too
// (oneDNN's scratch buffers: raw_allocate, then raw_deallocate on the bare
// pointer), which needs each allocation's context to be its data pointer and
// one deleter for all. So the wrapper asks the inner allocator for a header
// more and hands out the memory after it; the header holds the inner
// allocation (which frees the whole block), the owner and the size, and the
// deleter finds it just before the pointer it is given. The header is 64
// bytes, a multiple of LibTorch's alignment, so the data stays aligned.
// Counters are atomics in a fixed table: allocation is on every tensor's
// path, and no lock is taken on it.
//
//===----------------------------------------------------------------------===//
#include "support/MemoryCounter.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/alignment.h>

#include <array>
#include <atomic>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace {

struct Counter {
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> peak{0};
};

std::array<Counter, ppc::kMaxMemoryOwners> counters;
std::atomic<int> defaultOwner{0};
thread_local int threadOwner = -1; // -1: the default owner
std::atomic<bool> installed{false};

void checkOwner(int owner) {
  if (owner < 0 || owner >= ppc::kMaxMemoryOwners)
    throw std::out_of_range("memory owner " + std::to_string(owner) + " is not in [0, " +
                            std::to_string(ppc::kMaxMemoryOwners) + ")");
}

void charge(int owner, int64_t bytes) {
  Counter &c = counters[owner];
  int64_t now = c.live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  int64_t peak = c.peak.load(std::memory_order_relaxed);
  while (now > peak && !c.peak.compare_exchange_weak(peak, now, std::memory_order_relaxed))
    ;
}

struct Header {
  c10::DataPtr inner;
  int owner;
  int64_t bytes;
};
constexpr size_t kHeaderBytes = 64;
static_assert(sizeof(Header) <= kHeaderBytes && kHeaderBytes % c10::gAlignment == 0);

Header *headerOf(void *data) {
  return reinterpret_cast<Header *>(static_cast<char *>(data) - kHeaderBytes);
}

void release(void *data) {
  if (!data)
    return;
  Header *h = headerOf(data);
  counters[h->owner].live.fetch_sub(h->bytes, std::memory_order_relaxed);
  c10::DataPtr block = std::move(h->inner); // the header lives in the block it frees
  h->~Header();
}

class CountingAllocator final : public c10::Allocator {
public:
  explicit CountingAllocator(c10::Allocator *inner) : inner(inner) {}

  c10::DataPtr allocate(size_t bytes) override {
    c10::DataPtr block = inner->allocate(bytes + kHeaderBytes);
    void *data = static_cast<char *>(block.get()) + kHeaderBytes;
    c10::Device device = block.device();
    int owner = ppc::memoryOwner();
    new (headerOf(data)) Header{std::move(block), owner, int64_t(bytes)};
    charge(owner, int64_t(bytes));
    return {data, data, &release, device};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void *dest, const void *src, std::size_t count) const override {
    inner->copy_data(dest, src, count);
  }

private:
  c10::Allocator *inner;
};

} // namespace

void ppc::installMemoryCounter() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto *wrapper = new CountingAllocator(c10::GetCPUAllocator());
    // The highest priority: it wraps whatever allocator holds the place now.
    c10::SetCPUAllocator(wrapper, UINT8_MAX);
    if (c10::GetCPUAllocator() != wrapper)
      throw std::runtime_error("LibTorch kept its CPU allocator; tensor memory is not counted");
    installed = true;
  });
}

bool ppc::memoryCounterInstalled() { return installed; }

void ppc::setMemoryOwner(int owner) {
  checkOwner(owner);
  threadOwner = owner;
}

void ppc::setDefaultMemoryOwner(int owner) {
  checkOwner(owner);
  defaultOwner = owner;
}

int ppc::memoryOwner() { return threadOwner >= 0 ? threadOwner : defaultOwner.load(); }

int64_t ppc::liveBytes(int owner) {
  checkOwner(owner);
  return counters[owner].live.load();
}

int64_t ppc::peakBytes(int owner) {
  checkOwner(owner);
  return counters[owner].peak.load();
}

void ppc::resetPeak(int owner) {
  checkOwner(owner);
  counters[owner].peak = counters[owner].live.load();
}
