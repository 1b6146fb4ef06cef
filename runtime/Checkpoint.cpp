//===- runtime/Checkpoint.cpp - Training checkpoints on disk --------------===//
//
// The commit is rank 0's alone and comes after every rank has said its files
// are written, so the only window in which DIR is not a whole checkpoint is
// between two renames where RENAME_EXCHANGE is missing; even then the old one
// is at DIR.old until the new one is in place. PPC_FAULT=checkpoint:R:K makes
// rank R die right after writing its files for the checkpoint of step K (the
// tests' way to kill a rank mid-checkpoint at a known point).
//
//===----------------------------------------------------------------------===//
#include "runtime/Checkpoint.h"

#include "support/Fault.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/syscall.h>

using namespace ppc::rt;
namespace fs = std::filesystem;
using nlohmann::json;

bool ppc::rt::isCheckpoint(const std::string &dir) {
  std::error_code ec;
  return fs::is_regular_file(dir + "/trainer.json", ec);
}

json ppc::rt::readTrainerState(const std::string &dir) {
  if (!isCheckpoint(dir))
    throw std::runtime_error("'" + dir + "' is not a pprun checkpoint (it has no trainer.json)");
  try {
    return json::parse(std::ifstream(dir + "/trainer.json"));
  } catch (const json::exception &e) {
    throw std::runtime_error("'" + dir + "/trainer.json' cannot be read: " + e.what());
  }
}

std::string ppc::rt::optimizerFile(const std::string &dir, int rank) {
  return dir + "/optimizer/rank" + std::to_string(rank) + ".pt";
}

namespace {

/// Puts `fresh` at `dir`, whose old contents are removed once it is there.
void commit(const std::string &fresh, const std::string &dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::rename(fresh, dir);
    return;
  }
  if (syscall(SYS_renameat2, AT_FDCWD, fresh.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) ==
      0) {
    fs::remove_all(fresh); // now the previous checkpoint
    return;
  }
  std::string old = dir + ".old";
  fs::remove_all(old);
  fs::rename(dir, old);
  fs::rename(fresh, dir);
  fs::remove_all(old);
}

std::string key(int64_t step, const char *what) { return "K|" + std::to_string(step) + "|" + what; }

} // namespace

void ppc::rt::writeCheckpoint(const std::string &dir, const std::string &sourceDir,
                              Trainer &trainer, Transport &transport, const json &state) {
  int64_t step = state.at("step").get<int64_t>();
  int rank = transport.rank(), ranks = transport.worldSize();
  std::string fresh = (fs::path(dir).lexically_normal().string());
  if (!fresh.empty() && fresh.back() == '/')
    fresh.pop_back();
  std::string target = fresh;
  fresh += ".tmp";
  if (rank == 0) {
    fs::remove_all(fresh); // what a failed run left
    fs::create_directories(fresh + "/optimizer");
    for (int r = 1; r < ranks; ++r)
      transport.send(key(step, "go"), r, c10::IValue());
  } else {
    transport.recv(key(step, "go"), 0);
  }
  trainer.saveStages(fresh);
  trainer.saveOptimizer(optimizerFile(fresh, rank));
  ppc::faultPoint("checkpoint", rank, step);
  if (rank != 0) {
    transport.send(key(step, "written"), 0, c10::IValue());
    transport.recv(key(step, "done"), 0);
    return;
  }
  for (int r = 1; r < ranks; ++r)
    transport.recv(key(step, "written"), r);
  for (const char *name : {"pipeline.json", "ir.txt"})
    if (fs::exists(sourceDir + "/" + name))
      fs::copy_file(sourceDir + "/" + name, fresh + "/" + name);
  std::ofstream(fresh + "/trainer.json") << state.dump(1) << "\n";
  commit(fresh, target);
  for (int r = 1; r < ranks; ++r)
    transport.send(key(step, "done"), r, c10::IValue());
}
