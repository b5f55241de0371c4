// The tcp provider: the provider contract over TCP sockets, between processes and hosts
// without an RDMA NIC. One Provider per process (or per node of a test cluster), one
// Device ("tcp:<ip>:<port>"), RC endpoints; an event loop thread per provider moves the
// bytes. docs/provider-guide.md ("The tcp provider") describes it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "transport/cluster.h"
#include "transport/provider.h"

namespace ferry::tcp {

struct TcpOptions {
  // The IPv4 address this provider listens on and hands to peers in its endpoints'
  // addresses: the address peers reach it at (not 0.0.0.0).
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: an ephemeral port
  // Connections per endpoint pair and direction; a message above stripe_bytes is cut
  // into chunks of stripe_bytes spread over them.
  uint32_t connections = 4;
  uint32_t stripe_bytes = 1024 * 1024;
  // connect() gives up on a peer that does not accept and answer within this.
  uint64_t connect_timeout_ns = 2'000'000'000;
};

// This process's provider, listening on options.host:options.port.
Result<std::unique_ptr<Provider>> open_provider(const TcpOptions& options = {});

// `nodes` providers in this process, each on its own ephemeral port of options.host, as
// a Cluster for tests. Wall-clock time; faults are refused (close a peer to test its loss).
Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes, const TcpOptions& options = {});

}  // namespace ferry::tcp
