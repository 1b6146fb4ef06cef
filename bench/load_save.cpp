//===- bench/load_save.cpp - A bare LibTorch load and save ----------------===//
//
// The floor ppc's wall time is measured against: a process that loads a
// TorchScript archive and saves it again, nothing else (issue: ppc's wall
// time at most 1.5x this). pipeline_bench.py --only compile times both.
//
//===----------------------------------------------------------------------===//
#include <torch/script.h>

#include <chrono>
#include <iostream>

int main(int argc, char **argv) {
  if (argc != 3) {
    std::cerr << "usage: load_save IN.pt OUT.pt\n";
    return 2;
  }
  try {
    auto t0 = std::chrono::steady_clock::now();
    torch::jit::Module m = torch::jit::load(argv[1]);
    auto t1 = std::chrono::steady_clock::now();
    m.save(argv[2]);
    auto t2 = std::chrono::steady_clock::now();
    using ms = std::chrono::duration<double, std::milli>;
    std::cout << "{\"load_ms\": " << ms(t1 - t0).count() << ", \"save_ms\": " << ms(t2 - t1).count()
              << "}\n";
  } catch (const std::exception &e) {
    std::cerr << "load_save: " << e.what() << "\n";
    return 1;
  }
}
