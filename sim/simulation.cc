#include "sim/simulation.h"

#include <atomic>
#include <stdexcept>

#include "sim/simulation_impl.h"

namespace ferry::sim {
namespace {

// ns-3's simulator is a process-wide singleton: one simulation at a time.
std::atomic<bool> g_simulation_alive{false};

// Fault kinds in the trace hash.
enum FaultKind : uint32_t { kFaultLinkDown = 1, kFaultLinkUp, kFaultLoss };

}  // namespace

Simulation::Simulation(SimulationConfig config) {
  if (g_simulation_alive.exchange(true)) {
    throw std::logic_error("sim: only one Simulation may exist at a time (ns-3's simulator is global)");
  }
  try {
    impl_ = std::make_unique<SimulationImpl>(std::move(config));
  } catch (...) {
    g_simulation_alive = false;
    throw;
  }
}

Simulation::~Simulation() {
  impl_.reset();
  g_simulation_alive = false;
}

const SimulationConfig& Simulation::config() const { return impl_->config; }
size_t Simulation::host_count() const { return impl_->hosts.size(); }

Provider& Simulation::host(size_t index) {
  if (index >= impl_->hosts.size()) throw std::out_of_range("sim: no such host");
  return *impl_->hosts[index];
}

uint64_t Simulation::now_ns() const { return impl_->now_ns(); }
bool Simulation::step() { return impl_->network->step(); }
void Simulation::run_until(uint64_t t_ns) { impl_->network->run_until(t_ns); }
bool Simulation::run(uint64_t limit_ns) { return impl_->network->run(limit_ns); }
bool Simulation::run_until_completion(uint64_t limit_ns) {
  return impl_->run_until_completion(limit_ns);
}

void Simulation::at(uint64_t t_ns, std::function<void()> fn) {
  impl_->network->schedule(t_ns, std::move(fn));
}

void Simulation::set_link_up(const LinkId& link, bool up) {
  impl_->network->set_link_up(link, up);
  impl_->record_fault(up ? kFaultLinkUp : kFaultLinkDown, link, 0);
}

void Simulation::set_link_loss(const LinkId& link, double loss) {
  if (!(loss >= 0 && loss < 1)) throw std::invalid_argument("sim: loss must be in [0, 1)");
  impl_->network->set_link_loss(link, loss);
  impl_->record_fault(kFaultLoss, link, loss);
}

double Simulation::link_gbps(const LinkId& link) const { return impl_->network->link_gbps(link); }
uint64_t Simulation::link_delay_ns(const LinkId& link) const {
  return impl_->network->link_delay_ns(link);
}

std::string Simulation::mode() const {
  const SimulationConfig& c = config();
  if (c.transport != Transport::kRoceRc) return "srd";
  std::string mode = c.pfc.enabled ? "roce, pfc" : "roce, lossy";
  if (c.go_back_zero) mode += ", go-back-0";
  if (c.congestion.enabled) mode += ", dcqcn";
  if (c.frames_per_packet > 1) mode += ", " + std::to_string(c.frames_per_packet) + " frames/packet";
  return mode;
}

void Simulation::advance(uint64_t limit_ns) {
  if (limit_ns <= now_ns()) limit_ns = now_ns() + 1;
  if (!run_until_completion(limit_ns) && now_ns() < limit_ns) run_until(limit_ns);
}

VoidResult Simulation::inject(const FabricFault& fault) {
  const size_t nics = nics_per_node();
  if (fault.node >= host_count() || (fault.kind != FabricFaultKind::kNodeLoss && fault.nic >= nics)) {
    return make_error(ErrorCode::kOutOfRange, std::string("sim: ") + ferry::to_string(fault.kind) + " on node " +
                                                  std::to_string(fault.node) + " NIC " + std::to_string(fault.nic) +
                                                  ": the simulation has " + std::to_string(host_count()) +
                                                  " hosts of " + std::to_string(nics) + " NICs");
  }
  const LinkId link = LinkId::access(fault.node, fault.nic);
  switch (fault.kind) {
    case FabricFaultKind::kLinkDown:
    case FabricFaultKind::kNicDeath: set_link_up(link, false); break;
    case FabricFaultKind::kLinkUp: set_link_up(link, true); break;
    case FabricFaultKind::kNodeLoss:
      for (uint32_t n = 0; n < nics; ++n) set_link_up(LinkId::access(fault.node, n), false);
      break;
    case FabricFaultKind::kLossRate:
      if (!(fault.value >= 0 && fault.value < 1)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "sim: loss probability " + std::to_string(fault.value) + " is outside [0, 1)");
      }
      set_link_loss(link, fault.value);
      break;
  }
  return {};
}

Result<NicCounters> Simulation::nic_counters(uint32_t node, uint32_t nic) const {
  if (node >= host_count() || nic >= nics_per_node()) {
    return make_error(ErrorCode::kOutOfRange,
                      "sim: no NIC " + std::to_string(nic) + " on host " + std::to_string(node));
  }
  return impl_->nic_counters(node * static_cast<uint32_t>(nics_per_node()) + nic);
}

uint64_t Simulation::trace_hash() const { return impl_->trace_hash; }
const std::vector<TraceRecord>& Simulation::trace() const { return impl_->trace; }

SimulationCounters Simulation::counters() const {
  SimulationCounters c = impl_->counters;
  const NetworkCounters n = impl_->network->counters();
  c.packets_sent = n.nic_frames_sent;
  c.data_packets_sent = n.nic_data_frames_sent;
  c.packets_received = n.nic_frames_received;
  c.packets_lost = n.frames_lost;
  c.packets_dropped = n.frames_dropped;
  c.max_switch_queue_bytes = n.max_switch_queue_bytes;
  c.ecn_marked = n.ecn_marked;
  c.pfc_pauses = n.pfc_pauses;
  c.pfc_paused_ns = n.pfc_paused_ns;
  return c;
}

}  // namespace ferry::sim
