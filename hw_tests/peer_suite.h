// The qualification suite as two processes: each process holds one end of every link
// (its own provider, opened once), and the two meet over a PeerLink (peer_link.h).
//
// The server is the target of every check: it fills or canaries its buffer, posts the
// recvs, and verifies every byte that landed against the pattern the client wrote
// (both sides know it from the check's seed). The client posts the operations and checks
// its own completions. Each check runs in lock step: both open their side and swap
// addresses and keys, both connect, the server prepares ("ready"), the client acts
// ("acted"), the server verifies ("verdict"); both record the same outcome. Then the
// engine checks run over two engines meeting through a TcpExchange, and last
// robustness/peer-process-killed: the client keeps engine writes in flight, the server
// dies (SIGKILL to itself), and the client must see its transfers fail within a bound.
// docs/qualification.md has the commands and what each check means.
#pragma once

#include <functional>

#include "hw_tests/peer_link.h"
#include "hw_tests/qualify.h"

namespace ferry::qualify {

enum class PeerRole { kServer, kClient };

struct PeerOptions {
  Options suite;  // groups, thresholds, timeout (performance is not run between processes)
  // How the server dies in robustness/peer-process-killed; it is called mid-transfer and
  // should not return. Default: SIGKILL to this process. Tests substitute a simulated
  // death (the node vanishing) and get control back.
  std::function<void()> die;
};

// Runs this process's part. Both sides build the same report as far as they get; the
// server's ends where it dies, so the client's is the one to read.
Report run_peer(Provider& local, PeerLink& link, PeerRole role, const PeerOptions& options);

}  // namespace ferry::qualify
