//===- support/HostMemory.h - Reuse freed host memory -----------*- C++ -*-===//
//
// LibTorch's CPU allocator is plain malloc. With glibc's defaults, buffers of
// a few hundred KB (a microbatch's activations and gradients) are mmapped
// and unmapped on every use, so each fresh buffer costs a page fault per 4 KB
// touched: measured at ~10% of a GPT-2 block's backward on one core, and more
// for zero-bubble's W, whose gradients are allocated after I freed its
// buffers. pprun instead keeps freed memory for reuse, as LibTorch's CUDA
// caching allocator does on the GPU (bench/split_backward_bench.cpp), and so
// does ppc, whose refinement times stages as pprun runs them.
//
// Kept memory stays in the arena that freed it. glibc gives threads arenas
// of their own (up to 8 per core), and with a thread per rank each keeps a
// heap whose free chunks never fit the next step's sizes exactly: on a
// 3000-step soak on threads the resident size grew by 4.0 KB a step, against
// 0.9 KB with two arenas (bench/soak.py), and GPT-2's 4-stage training step
// took the same time within noise (median of 4 runs: 486 ms with two arenas,
// 476 ms with 64). So the arenas are capped at two unless MALLOC_ARENA_MAX
// says otherwise.
//
//===----------------------------------------------------------------------===//
#ifndef PPC_SUPPORT_HOSTMEMORY_H
#define PPC_SUPPORT_HOSTMEMORY_H

namespace ppc {

/// Serves allocations below glibc's largest mmap threshold (32 MB) from the
/// heap and never trims it, in at most two arenas; the resident size stays
/// at its peak. Call once, before the first tensor. PPC_HOST_MEMORY=trim keeps glibc's defaults.
void retainFreedHostMemory();

} // namespace ppc

#endif
