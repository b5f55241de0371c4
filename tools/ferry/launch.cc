#include "tools/ferry/launch.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "tools/ferry/exit_codes.h"

namespace ferry::cli {
namespace {

struct Child {
  uint32_t node = 0;
  pid_t pid = -1;
  int out = -1;          // its stdout and stderr, together
  std::string pending;   // a line not yet ended
  int status = -1;       // exit status once reaped; -1 while running
};

// Starts one node's process with its output on a pipe; it dies with the launcher.
bool start(Child& child, const std::vector<std::string>& arguments) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the launcher is already gone
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    std::vector<char*> argv;
    static char self[] = "ferry";
    argv.push_back(self);
    for (const std::string& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    std::fprintf(stderr, "cannot start /proc/self/exe\n");
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  child.pid = pid;
  child.out = fds[0];
  return true;
}

// Forwards what a child wrote, whole lines prefixed with its node; at end of file, the rest.
void forward(Child& child, bool at_end) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(child.out, buffer, sizeof buffer);
    if (n > 0) {
      child.pending.append(buffer, static_cast<size_t>(n));
      if (n == static_cast<ssize_t>(sizeof buffer)) continue;
    } else if (n == 0) {
      at_end = true;
    }
    break;
  }
  size_t start = 0;
  for (size_t nl; (nl = child.pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::printf("[node %u] %s\n", child.node, child.pending.substr(start, nl - start).c_str());
  }
  child.pending.erase(0, start);
  if (at_end && !child.pending.empty()) {
    std::printf("[node %u] %s\n", child.node, child.pending.c_str());
    child.pending.clear();
  }
  std::fflush(stdout);
  if (at_end) {
    close(child.out);
    child.out = -1;
  }
}

}  // namespace

int launch_nodes(const LaunchPlan& plan) {
  using Clock = std::chrono::steady_clock;
  std::string directory = plan.directory;
  std::string temporary;
  if (directory.empty()) {
    char folder[] = "/tmp/ferry-launch-XXXXXX";
    if (mkdtemp(folder) == nullptr) {
      std::fprintf(stderr, "ferry replay --launch: cannot create a temporary directory in /tmp\n");
      return kExitFailed;
    }
    temporary = folder;
    directory = "file://" + temporary;
  }
  std::vector<Child> children(plan.nodes);
  bool started = true;
  for (uint32_t n = 0; n < plan.nodes && started; ++n) {
    children[n].node = n;
    std::vector<std::string> arguments = {"replay", "--node", std::to_string(n), "--directory", directory};
    arguments.insert(arguments.end(), plan.arguments.begin(), plan.arguments.end());
    started = start(children[n], arguments);
    if (!started) std::fprintf(stderr, "ferry replay --launch: cannot start node %u's process\n", n);
  }
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(plan.timeout_s * 1000));
  bool timed_out = false;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Child*> open;
    for (Child& c : children) {
      if (c.out >= 0) fds.push_back({c.out, POLLIN, 0}), open.push_back(&c);
    }
    bool running = false;
    for (Child& c : children) {
      if (c.pid > 0 && c.status < 0) {
        int status = 0;
        if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
          c.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        } else {
          running = true;
        }
      }
    }
    if (!running && fds.empty()) break;
    if (!timed_out && Clock::now() > deadline) {
      timed_out = true;
      std::fprintf(stderr, "ferry replay --launch: the processes did not end within %.0f s; killing them\n",
                   plan.timeout_s);
      for (Child& c : children) {
        if (c.pid > 0 && c.status < 0) kill(c.pid, SIGKILL);
      }
    }
    if (fds.empty()) {
      usleep(10'000);
      continue;
    }
    if (poll(fds.data(), fds.size(), 50) <= 0) continue;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) forward(*open[i], false);
    }
  }
  if (!temporary.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temporary, ec);
  }
  bool all_ok = started && !timed_out;
  std::string summary;
  for (const Child& c : children) {
    const bool ok = c.status == 0;
    all_ok &= ok;
    summary += (summary.empty() ? "" : ", ") + std::string("node ") + std::to_string(c.node) + " " +
               (c.pid < 0 ? "not started" : ok ? "ok" : "exit " + std::to_string(c.status));
  }
  std::printf("launch: %u processes: %s\n", plan.nodes, summary.c_str());
  std::fflush(stdout);
  return all_ok ? kExitOk : kExitFailed;
}

}  // namespace ferry::cli
