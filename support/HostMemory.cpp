//===- support/HostMemory.cpp - Reuse freed host memory -------------------===//
//
// mallopt's thresholds: allocations up to M_MMAP_THRESHOLD come from the heap
// (glibc caps it at 32 MB on 64-bit), and M_TRIM_THRESHOLD bounds the free
// memory at the heap's top before it is returned to the system; M_ARENA_MAX
// caps the heaps that threads allocate from (see HostMemory.h).
//
//===----------------------------------------------------------------------===//
#include "support/HostMemory.h"

#include <cstdlib>
#include <cstring>
#include <malloc.h>

void ppc::retainFreedHostMemory() {
  const char *mode = std::getenv("PPC_HOST_MEMORY");
  if (mode && std::strcmp(mode, "trim") == 0)
    return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  if (!std::getenv("MALLOC_ARENA_MAX"))
    mallopt(M_ARENA_MAX, 2);
}
