#include "tools/ferry/swarm/sweep.h"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "tools/ferry/swarm/seed_run.h"

namespace ferry::swarm {
namespace {

std::string first_violation(const SeedOutcome& out) {
  std::string why = out.violations.front();
  if (out.violations.size() > 1) why += " (and " + std::to_string(out.violations.size() - 1) + " more)";
  return why;
}

// A worker: runs seeds start, start+stride, ... below end and reports on `fd`, one line
// a seed: "S seed" before it starts, then "P seed" or "F seed why".
void work(int fd, uint64_t start, uint64_t end, unsigned stride) {
  FILE* out = fdopen(fd, "w");
  for (uint64_t seed = start; seed < end; seed += stride) {
    std::fprintf(out, "S %llu\n", static_cast<unsigned long long>(seed));
    std::fflush(out);
    const SeedOutcome outcome = run_seed(seed);
    std::string line = outcome.passed() ? "P " + std::to_string(seed)
                                        : "F " + std::to_string(seed) + " " + first_violation(outcome);
    std::replace(line.begin(), line.end(), '\n', ' ');
    std::fprintf(out, "%s\n", line.c_str());
    std::fflush(out);
  }
  std::fclose(out);
}

struct Worker {
  pid_t pid = -1;
  int fd = -1;
  std::string pending;  // a partial line
  std::optional<uint64_t> running;
};

// A worker process for seeds start, start+stride, ... below end; false if none started.
bool start_worker(Worker& w, uint64_t start, uint64_t end, unsigned stride) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    close(fds[0]);
    work(fds[1], start, end, stride);
    _exit(0);
  }
  close(fds[1]);
  w = Worker{pid, fds[0], "", std::nullopt};
  return true;
}

}  // namespace

SweepResult sweep(uint64_t first, uint64_t count, unsigned jobs) {
  SweepResult result;
  jobs = static_cast<unsigned>(std::clamp<uint64_t>(jobs, 1, std::max<uint64_t>(count, 1)));
  std::fflush(stdout);
  std::fflush(stderr);
  const uint64_t end = first + count;
  std::vector<Worker> workers(jobs);
  for (unsigned j = 0; j < jobs; ++j) {
    if (!start_worker(workers[j], first + j, end, jobs)) {
      result.failures.push_back({first + j, std::string("cannot start a worker: ") + std::strerror(errno)});
      return result;
    }
  }
  std::map<uint64_t, std::string> failures;
  uint64_t ended = 0;  // seeds that passed, failed or crashed
  size_t open = jobs;
  while (open > 0) {
    std::vector<pollfd> polled;
    std::vector<Worker*> owners;
    for (Worker& w : workers) {
      if (w.fd < 0) continue;
      polled.push_back({w.fd, POLLIN, 0});
      owners.push_back(&w);
    }
    if (poll(polled.data(), polled.size(), -1) < 0) continue;
    for (size_t i = 0; i < polled.size(); ++i) {
      if (!polled[i].revents) continue;
      Worker& w = *owners[i];
      char chunk[4096];
      const ssize_t n = read(w.fd, chunk, sizeof chunk);
      if (n > 0) {
        w.pending.append(chunk, static_cast<size_t>(n));
        size_t end;
        while ((end = w.pending.find('\n')) != std::string::npos) {
          const std::string line = w.pending.substr(0, end);
          w.pending.erase(0, end + 1);
          const uint64_t seed = std::strtoull(line.c_str() + 2, nullptr, 10);
          if (line[0] == 'S') {
            w.running = seed;
          } else {
            ++ended;
            w.running.reset();
            if (line[0] == 'F') failures[seed] = line.substr(line.find(' ', 2) + 1);
          }
        }
        continue;
      }
      // The worker is gone: a seed it had started and not reported crashed it, and a
      // new worker takes the rest of its share.
      close(w.fd);
      w.fd = -1;
      --open;
      int status = 0;
      waitpid(w.pid, &status, 0);
      if (w.running) {
        const uint64_t crashed = *w.running;
        ++ended;
        failures[crashed] = WIFSIGNALED(status) ? "never a crash: the run died of signal " + std::to_string(WTERMSIG(status))
                                                : "never a crash: the run exited with status " + std::to_string(WEXITSTATUS(status));
        if (crashed + jobs < end) {
          if (start_worker(w, crashed + jobs, end, jobs)) {
            ++open;
          } else {
            failures[crashed + jobs] = std::string("cannot start a worker: ") + std::strerror(errno);
          }
        }
      }
    }
  }
  for (auto& [seed, why] : failures) result.failures.push_back({seed, why});
  result.seeds = ended;
  if (ended < count) result.failures.push_back({end, std::to_string(count - ended) + " seeds never ran: a worker could not start"});
  return result;
}

}  // namespace ferry::swarm
