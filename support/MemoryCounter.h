//===- support/MemoryCounter.h - CPU tensor bytes per owner -----*- C++ -*-===//
//
// Counts the bytes of CPU tensor storage alive, and their peak, per owner: a
// small integer each thread sets for itself (pprun's rank threads, the
// compiler's activation measurement). Installing the counter puts a wrapper
// in front of LibTorch's CPU allocator that charges each allocation to the
// allocating thread's owner and remembers that owner in the allocation, so a
// tensor freed on another thread (one rank handing a value to the next) is
// credited back to the owner that allocated it. Resident memory (RSS) says
// little about tensors: the allocator keeps freed memory, and the binary,
// the libraries and the thread stacks are in it too. CPU only; GPU memory
// has its own counters in the CUDA caching allocator.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_SUPPORT_MEMORYCOUNTER_H
#define PPC_SUPPORT_MEMORYCOUNTER_H

#include <cstdint>

namespace ppc {

/// Owners are 0 .. kMaxMemoryOwners - 1.
inline constexpr int kMaxMemoryOwners = 1024;

/// Wraps the current CPU allocator (once; later calls do nothing). Tensors
/// allocated before are not counted, so call it before the first tensor
/// that should be.
void installMemoryCounter();

/// Whether installMemoryCounter has run.
bool memoryCounterInstalled();

/// Charges this thread's later CPU allocations to `owner`.
void setMemoryOwner(int owner);

/// Charges later CPU allocations of the threads that never called
/// setMemoryOwner (helper threads of a library) to `owner`; 0 at first.
void setDefaultMemoryOwner(int owner);

/// The owner this thread's allocations are charged to now.
int memoryOwner();

/// Bytes allocated by `owner` and not yet freed.
int64_t liveBytes(int owner);

/// The most liveBytes(owner) has been since the start or resetPeak(owner).
int64_t peakBytes(int owner);

/// Starts a new peak at the current live bytes of `owner`.
void resetPeak(int owner);

} // namespace ppc

#endif
