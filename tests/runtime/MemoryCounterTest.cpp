//===- tests/runtime/MemoryCounterTest.cpp - Live bytes per owner ---------===//
//
// support/MemoryCounter charges each CPU tensor to the owner of the thread
// that allocated it, for as long as it lives, wherever it is freed: a value
// one rank thread makes and another drops stays the first rank's.
//
//===----------------------------------------------------------------------===//
#include "support/MemoryCounter.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

using namespace ppc;

namespace {

constexpr int64_t kBytes = 1024 * sizeof(float);

TEST(MemoryCounter, CountsATensorWhileItLives) {
  installMemoryCounter();
  setMemoryOwner(7);
  int64_t before = liveBytes(7);
  {
    at::Tensor t = torch::empty({1024}, torch::kFloat);
    EXPECT_EQ(liveBytes(7) - before, kBytes);
  }
  EXPECT_EQ(liveBytes(7), before);
  EXPECT_GE(peakBytes(7) - before, kBytes);
  setMemoryOwner(0);
}

TEST(MemoryCounter, PeakRestartsAtTheLiveBytes) {
  installMemoryCounter();
  setMemoryOwner(8);
  { at::Tensor big = torch::empty({4096}, torch::kFloat); }
  resetPeak(8);
  EXPECT_EQ(peakBytes(8), liveBytes(8));
  at::Tensor t = torch::empty({1024}, torch::kFloat);
  EXPECT_EQ(peakBytes(8), liveBytes(8));
  t = at::Tensor();
  EXPECT_EQ(peakBytes(8) - liveBytes(8), kBytes);
  setMemoryOwner(0);
}

TEST(MemoryCounter, FreedOnAnotherThreadIsCreditedToItsOwner) {
  installMemoryCounter();
  int64_t nine = liveBytes(9), ten = liveBytes(10);
  at::Tensor handed;
  std::thread producer([&] {
    setMemoryOwner(9);
    handed = torch::ones({1024}, torch::kFloat);
  });
  producer.join();
  EXPECT_EQ(liveBytes(9) - nine, kBytes);
  std::thread consumer([&] {
    setMemoryOwner(10);
    handed = at::Tensor();
  });
  consumer.join();
  EXPECT_EQ(liveBytes(9), nine);
  EXPECT_EQ(liveBytes(10), ten);
}

TEST(MemoryCounter, ThreadsWithoutAnOwnerUseTheDefault) {
  installMemoryCounter();
  setDefaultMemoryOwner(11);
  int64_t before = liveBytes(11);
  at::Tensor made;
  std::thread helper([&] { made = torch::empty({1024}, torch::kFloat); });
  helper.join();
  EXPECT_EQ(liveBytes(11) - before, kBytes);
  setDefaultMemoryOwner(0);
}

TEST(MemoryCounter, RejectsAnOwnerOutOfRange) {
  EXPECT_THROW(setMemoryOwner(-1), std::out_of_range);
  EXPECT_THROW(liveBytes(kMaxMemoryOwners), std::out_of_range);
}

} // namespace
