#include <stdexcept>
#include <string>

#include "sim/config.h"

namespace ferry::sim {
namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw std::invalid_argument("sim: " + what);
}

void check_link(const LinkConfig& link, const std::string& name) {
  require(link.gbps >= 0, name + " rate must not be negative");
  require(link.loss >= 0 && link.loss < 1, name + " loss must be in [0, 1)");
}

}  // namespace

void validate(const SimulationConfig& c) {
  require(c.seed >= 1, "seed must be at least 1");
  require(c.hosts >= 1 && c.hosts <= 65535, "hosts must be in [1, 65535]");
  require(!c.nics.empty() && c.nics.size() <= 64, "every host needs 1 to 64 NICs");
  for (const NicConfig& nic : c.nics) require(nic.gbps > 0, "NIC rates must be positive");
  if (c.topology == Topology::kLeafSpine) {
    require(c.hosts_per_leaf >= 1, "hosts_per_leaf must be at least 1");
    require(c.spines >= 1, "spines must be at least 1");
    require(c.oversubscription >= 1, "oversubscription must be at least 1");
  }
  check_link(c.access_link, "access link");
  check_link(c.fabric_link, "fabric link");
  for (const auto& [id, link] : c.link_overrides) check_link(link, "overridden link");
  require(c.mtu >= 256 && c.mtu <= 65536, "mtu must be in [256, 65536]");
  require(c.frames_per_packet >= 1 && uint64_t{c.mtu} * c.frames_per_packet <= (1u << 30),
          "frames_per_packet must be at least 1 and mtu * frames_per_packet at most 2^30");
  require(c.max_sge >= 1 && c.max_sge <= 32, "max_sge must be in [1, 32]");
  require(c.ack_every_packets >= 1, "ack_every_packets must be at least 1");
  require(c.srd_paths >= 1 && c.srd_paths <= 65536, "srd_paths must be in [1, 65536]");
  require(c.srd_window_packets >= 1, "srd_window_packets must be at least 1");
  require(c.srd_min_rto_ns >= 1, "srd_min_rto_ns must be at least 1");
  if (c.congestion.enabled) {
    const CongestionConfig& cc = c.congestion;
    require(cc.kmin_bytes <= cc.kmax_bytes, "congestion: kmin must not exceed kmax");
    require(cc.pmax >= 0 && cc.pmax <= 1, "congestion: pmax must be in [0, 1]");
    require(cc.g > 0 && cc.g <= 1, "congestion: g must be in (0, 1]");
    require(cc.alpha_timer_ns > 0 && cc.rate_increase_timer_ns > 0 && cc.byte_counter_bytes > 0,
            "congestion: timers and the byte counter must be positive");
    require(cc.min_rate_gbps > 0, "congestion: min_rate_gbps must be positive");
  }
  if (c.pfc.enabled) require(c.pfc.xon_bytes <= c.pfc.xoff_bytes, "pfc: xon must not exceed xoff");
  require(c.switch_port_buffer_bytes >= uint64_t{c.mtu + c.header_bytes} * c.frames_per_packet,
          "switch_port_buffer_bytes must hold at least one packet");
}

}  // namespace ferry::sim
