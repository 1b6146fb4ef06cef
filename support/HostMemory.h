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
//===----------------------------------------------------------------------===//
#ifndef PPC_SUPPORT_HOSTMEMORY_H
#define PPC_SUPPORT_HOSTMEMORY_H

namespace ppc {

/// Serves allocations below glibc's largest mmap threshold (32 MB) from the
/// heap and never trims it; the resident size stays at its peak. Call once,
/// before the first tensor. PPC_HOST_MEMORY=trim keeps glibc's defaults.
void retainFreedHostMemory();

} // namespace ppc

#endif
