// Builds the ns-3 nodes, links and switches of a configuration and their forwarding
// tables: one switch for every NIC, or leaves and spines.
//
// ns-3 internals: C++17 only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "sim/config.h"
#include "sim/ns3/link.h"
#include "sim/ns3/switch.h"

namespace ferry::sim::net {

// The two devices of a link; `a` is the end nearer the hosts.
struct Link {
  LinkId id;
  ns3::Ptr<LinkDevice> a;
  ns3::Ptr<LinkDevice> b;
};

struct Fabric {
  std::vector<ns3::Ptr<ns3::Node>> hosts;
  std::vector<ns3::Ptr<LinkDevice>> nic_devices;  // by global NIC index
  std::vector<std::unique_ptr<Switch>> switches;  // leaves first, then spines
  std::vector<Link> links;
  uint32_t leaves = 0;

  const Link* find(const LinkId& id) const;
};

// Random streams are assigned in construction order from `next_stream` on, so the same
// configuration always gets the same streams.
Fabric build_fabric(const SimulationConfig& config, LinkContext* context, int64_t& next_stream);

}  // namespace ferry::sim::net
