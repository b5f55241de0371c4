#include "sim/ns3/topology.h"

#include "ns3/node.h"

namespace ferry::sim::net {
namespace {

class Builder {
 public:
  Builder(const SimulationConfig& config, LinkContext* context, int64_t& next_stream)
      : config_(config), context_(context), next_stream_(next_stream) {}

  Fabric build() {
    const uint32_t nics = static_cast<uint32_t>(config_.nics.size());
    for (uint32_t h = 0; h < config_.hosts; ++h) fabric_.hosts.push_back(ns3::CreateObject<ns3::Node>());
    fabric_.nic_devices.resize(size_t{config_.hosts} * nics);
    if (config_.topology == Topology::kSingleSwitch) {
      Switch& only = add_switch();
      for (uint32_t h = 0; h < config_.hosts; ++h) connect_host(h, only);
    } else {
      build_leaf_spine();
    }
    return std::move(fabric_);
  }

 private:
  uint32_t nic_index(uint32_t host, uint32_t nic) const {
    return host * static_cast<uint32_t>(config_.nics.size()) + nic;
  }

  Switch& add_switch() {
    const uint64_t salt = (uint64_t{config_.seed} << 32) ^ (fabric_.switches.size() * 0x9e3779b97f4a7c15ull);
    fabric_.switches.push_back(
        std::make_unique<Switch>(ns3::CreateObject<ns3::Node>(), salt, config_, context_));
    return *fabric_.switches.back();
  }

  // A link's settings: the override if there is one, else the default; rate 0 means
  // `derived_gbps`.
  LinkConfig settings(const LinkId& id, const LinkConfig& fallback, double derived_gbps) const {
    LinkConfig c = fallback;
    for (const auto& [link, override_config] : config_.link_overrides) {
      if (link == id) c = override_config;
    }
    if (c.gbps == 0) c.gbps = derived_gbps;
    return c;
  }

  ns3::Ptr<LinkDevice> make_device(const LinkConfig& c) {
    auto stream = ns3::CreateObject<ns3::UniformRandomVariable>();
    stream->SetStream(next_stream_++);
    auto device = ns3::CreateObject<LinkDevice>();
    device->configure(context_, c.gbps, c.delay_ns, next_address_++, stream);
    device->set_loss(c.loss);
    return device;
  }

  Link add_link(const LinkId& id, const LinkConfig& c) {
    Link link{id, make_device(c), make_device(c)};
    ns3::CreateObject<LinkChannel>()->connect(link.a, link.b);
    fabric_.links.push_back(link);
    return link;
  }

  // Every NIC of `host` gets an access link to `sw` and a route there.
  void connect_host(uint32_t host, Switch& sw) {
    for (uint32_t n = 0; n < config_.nics.size(); ++n) {
      const LinkId id = LinkId::access(host, n);
      const Link link = add_link(id, settings(id, config_.access_link, config_.nics[n].gbps));
      fabric_.hosts[host]->AddDevice(link.a);
      fabric_.nic_devices[nic_index(host, n)] = link.a;
      sw.add_route(nic_index(host, n), sw.add_port(link.b));
    }
  }

  // Leaves of hosts_per_leaf hosts; each leaf has one uplink to every spine, of a rate
  // that makes downlink capacity / uplink capacity the configured oversubscription.
  void build_leaf_spine() {
    const uint32_t per_leaf = config_.hosts_per_leaf;
    const uint32_t leaves = (config_.hosts + per_leaf - 1) / per_leaf;
    fabric_.leaves = leaves;
    double host_gbps = 0;
    for (const NicConfig& nic : config_.nics) host_gbps += nic.gbps;
    const double uplink_gbps = per_leaf * host_gbps / (config_.oversubscription * config_.spines);

    for (uint32_t l = 0; l < leaves; ++l) add_switch();
    for (uint32_t s = 0; s < config_.spines; ++s) add_switch();
    for (uint32_t h = 0; h < config_.hosts; ++h) connect_host(h, *fabric_.switches[h / per_leaf]);

    const uint32_t total_nics = static_cast<uint32_t>(fabric_.nic_devices.size());
    const uint32_t nics = static_cast<uint32_t>(config_.nics.size());
    for (uint32_t l = 0; l < leaves; ++l) {
      Switch& leaf = *fabric_.switches[l];
      std::vector<uint32_t> uplinks;
      for (uint32_t s = 0; s < config_.spines; ++s) {
        Switch& spine = *fabric_.switches[leaves + s];
        const LinkId id = LinkId::fabric(l, s);
        const Link link = add_link(id, settings(id, config_.fabric_link, uplink_gbps));
        uplinks.push_back(leaf.add_port(link.a));
        const uint32_t down = spine.add_port(link.b);
        for (uint32_t g = 0; g < total_nics; ++g) {
          if (g / nics / per_leaf == l) spine.add_route(g, down);
        }
      }
      for (uint32_t g = 0; g < total_nics; ++g) {
        if (g / nics / per_leaf == l) continue;  // local NICs were routed by connect_host
        for (uint32_t port : uplinks) leaf.add_route(g, port);
      }
    }
  }

  const SimulationConfig& config_;
  LinkContext* context_;
  int64_t& next_stream_;
  uint32_t next_address_ = 1;
  Fabric fabric_;
};

}  // namespace

const Link* Fabric::find(const LinkId& id) const {
  for (const Link& link : links) {
    if (link.id == id) return &link;
  }
  return nullptr;
}

Fabric build_fabric(const SimulationConfig& config, LinkContext* context, int64_t& next_stream) {
  return Builder(config, context, next_stream).build();
}

}  // namespace ferry::sim::net
