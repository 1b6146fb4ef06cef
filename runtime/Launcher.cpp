//===- runtime/Launcher.cpp - `pprun --nproc N` over Gloo -----------------===//
//
// Starts N copies of this program, each told its rank through the same
// environment variables torchrun sets (RANK, WORLD_SIZE, MASTER_ADDR,
// MASTER_PORT, LOCAL_RANK), and supervises them: when one exits non-zero or
// is killed, the others are stopped and the failure is reported, so a dead
// rank never leaves the job hanging. Ctrl-C stops every rank.
//
//===----------------------------------------------------------------------===//
#include "runtime/Manifest.h"
#include "runtime/Pipeline.h"

#include <arpa/inet.h>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace ppc::rt;

namespace {

std::vector<pid_t> children;

/// "stage 2" or "stages 1, 4": what rank `rank` of `ranks` holds of the
/// pipeline in `dir` (the checkpoint's when resuming), "" if it cannot be read.
std::string stagesOfRank(const PipelineOptions &o, int rank) {
  int numStages = 0;
  try {
    numStages = readManifest(o.resume.empty() ? o.dir : o.resume).numStages();
  } catch (const std::exception &) {
    return "";
  }
  std::string held;
  int count = 0;
  for (int s = 0; s < numStages; ++s)
    if (rankOfStage(s, o.ranks) == rank)
      held += (count++ ? ", " : "") + std::to_string(s);
  if (count == 0)
    return "";
  return (count == 1 ? " (stage " : " (stages ") + held + ")";
}

void stopChildren(int sig) {
  for (pid_t pid : children)
    if (pid > 0)
      kill(pid, sig == SIGINT ? SIGINT : SIGTERM);
}

/// A port the kernel says is free on loopback now.
int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
    throw std::runtime_error("cannot find a free TCP port on 127.0.0.1");
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string describeStatus(int status) {
  if (WIFSIGNALED(status))
    return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with code " + std::to_string(WEXITSTATUS(status));
}

} // namespace

int ppc::rt::launchProcesses(const PipelineOptions &o, int argc, char **argv) {
  int port = freePort();
  std::vector<char *> args(argv, argv + argc);
  args.push_back(nullptr);
  for (int r = 0; r < o.ranks; ++r) {
    pid_t pid = fork();
    if (pid < 0)
      throw std::runtime_error("fork failed");
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(o.ranks).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      execv("/proc/self/exe", args.data());
      _exit(127);
    }
    children.push_back(pid);
  }
  signal(SIGINT, stopChildren);
  signal(SIGTERM, stopChildren);
  std::map<pid_t, int> rankOf;
  for (int r = 0; r < o.ranks; ++r)
    rankOf[children[r]] = r;
  int exitCode = 0;
  for (int remaining = o.ranks; remaining > 0; --remaining) {
    int status = 0;
    pid_t pid = wait(&status);
    if (pid < 0)
      break;
    int rank = rankOf[pid];
    children[rank] = 0;
    bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    if (failed && exitCode == 0) {
      std::cerr << "pprun: rank " << rank << stagesOfRank(o, rank) << " " << describeStatus(status)
                << "; stopping the other ranks\n";
      exitCode = 1;
      stopChildren(SIGTERM);
    }
  }
  return exitCode;
}
