#include "transport/verbs/verbs_cluster.h"

#include <fstream>
#include <string>
#include <vector>

#include "transport/wall_clock_cluster.h"

namespace ferry::verbs {
namespace {

// A port counter from sysfs, as the kernel's RDMA core exposes it for every device.
bool read_counter(const std::string& path, uint64_t* value) {
  std::ifstream in(path);
  return static_cast<bool>(in >> *value);
}

class VerbsCluster final : public WallClockCluster {
 public:
  VerbsCluster(std::vector<std::unique_ptr<Provider>> providers, uint8_t port)
      : WallClockCluster(std::move(providers)), port_(port) {}

  const char* provider_name() const override { return "verbs"; }
  std::string mode() const override { return "wall-clock"; }
  size_t nics_per_node() const override { return providers_.front()->device_count(); }
  VoidResult inject(const FabricFault& fault) override {
    return make_error(ErrorCode::kUnsupported, std::string("verbs: cannot inject ") + to_string(fault.kind) +
                                                   " into a real NIC; use emu or sim for fault runs");
  }
  Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const override {
    if (node >= providers_.size() || nic >= nics_per_node()) {
      return make_error(ErrorCode::kOutOfRange,
                        "verbs: no NIC " + std::to_string(nic) + " on node " + std::to_string(node));
    }
    // The port's counters: data in units of 4 bytes, as InfiniBand counts it.
    const std::string device = providers_[node]->device(nic).attributes().name;
    const std::string dir = "/sys/class/infiniband/" + device + "/ports/" + std::to_string(port_) + "/";
    uint64_t tx_words = 0, rx_words = 0;
    NicCounters c;
    if (!read_counter(dir + "counters/port_xmit_data", &tx_words) ||
        !read_counter(dir + "counters/port_rcv_data", &rx_words) ||
        !read_counter(dir + "counters/port_xmit_packets", &c.tx_packets) ||
        !read_counter(dir + "counters/port_rcv_packets", &c.rx_packets)) {
      return make_error(ErrorCode::kUnsupported, "verbs: " + device + " has no readable port counters in " + dir);
    }
    c.tx_bytes = 4 * tx_words;
    c.rx_bytes = 4 * rx_words;
    // Resends, where the driver counts them (rxe and mlx5 name them differently).
    uint64_t value = 0;
    if (read_counter(dir + "hw_counters/duplicate_request", &value)) c.retransmitted_packets = value;
    if (read_counter(dir + "hw_counters/packet_seq_err", &value)) c.retransmitted_packets += value;
    if (read_counter(dir + "hw_counters/np_ecn_marked_roce_packets", &value)) c.ecn_marks = value;
    if (read_counter(dir + "hw_counters/np_cnp_sent", &value)) c.cnps = value;
    return c;
  }

 private:
  uint8_t port_;
};

}  // namespace

Result<std::unique_ptr<Cluster>> open_cluster(uint32_t nodes, const VerbsOptions& options) {
  if (nodes == 0) return make_error(ErrorCode::kInvalidArgument, "verbs: a cluster needs at least one node");
  std::vector<std::unique_ptr<Provider>> providers;
  for (uint32_t n = 0; n < nodes; ++n) {
    auto provider = open_provider(options);
    if (!provider.ok()) return provider.error();
    providers.push_back(std::move(provider).value());
  }
  return std::unique_ptr<Cluster>(std::make_unique<VerbsCluster>(std::move(providers), options.port));
}

}  // namespace ferry::verbs
