// Opening a provider, and providers of this process as a Cluster (transport/cluster.h)
// for tests: wall-clock time, each node on its own port, no faults (a lost peer is a
// closed provider or a killed process, see tcp_two_process_test.cc).
#include <unistd.h>

#include <string>
#include <vector>

#include "transport/tcp/internal.h"
#include "transport/net/socket.h"
#include "transport/wall_clock_cluster.h"

namespace ferry::tcp {
namespace {

class TcpCluster final : public WallClockCluster {
 public:
  using WallClockCluster::WallClockCluster;

  const char* provider_name() const override { return "tcp"; }
  std::string mode() const override { return "wall-clock, sockets"; }
  size_t nics_per_node() const override { return 1; }
  VoidResult inject(const FabricFault& fault) override {
    return make_error(ErrorCode::kUnsupported, std::string("tcp: cannot inject ") + to_string(fault.kind) +
                                                   " into the host's TCP stack; close the peer instead");
  }
  Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const override {
    if (node >= providers_.size() || nic != 0) {
      return make_error(ErrorCode::kOutOfRange, "tcp: no NIC " + std::to_string(nic) + " on node " + std::to_string(node));
    }
    return make_error(ErrorCode::kUnsupported, "tcp: wire counters are the kernel's, not kept here");
  }
};

}  // namespace

Result<std::unique_ptr<Provider>> open_provider(const TcpOptions& options) {
  if (options.connections == 0 || options.connections > 64) {
    return make_error(ErrorCode::kOutOfRange, "tcp: connections must be in [1, 64], got " +
                                                  std::to_string(options.connections));
  }
  if (options.stripe_bytes < 4096) {
    return make_error(ErrorCode::kOutOfRange, "tcp: stripe_bytes must be at least 4096, got " +
                                                  std::to_string(options.stripe_bytes));
  }
  auto ip = net::parse_ipv4(options.host);
  if (!ip.ok()) return ip.error();
  if (*ip == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "tcp: listen on the address peers reach this host at, not 0.0.0.0 (it goes into addresses)");
  }
  auto fd = net::listen_on(options.host, options.port);
  if (!fd.ok()) return fd.error();
  auto port = net::local_port(*fd);
  if (!port.ok()) {
    close(*fd);
    return port.error();
  }
  return std::unique_ptr<Provider>(std::make_unique<TcpProvider>(options, *fd, *ip, *port));
}

Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes, const TcpOptions& options) {
  if (nodes == 0) return make_error(ErrorCode::kInvalidArgument, "tcp: a cluster needs at least one node");
  std::vector<std::unique_ptr<Provider>> providers;
  for (uint32_t n = 0; n < nodes; ++n) {
    TcpOptions node = options;
    node.port = 0;  // each its own
    auto provider = open_provider(node);
    if (!provider.ok()) return provider.error();
    providers.push_back(std::move(provider).value());
  }
  return std::unique_ptr<Cluster>(std::make_unique<TcpCluster>(std::move(providers)));
}

}  // namespace ferry::tcp
