// The Network of a simulation on ns-3: the simulator and its clock, the fabric, the
// random streams, and runs that stop at an instant, a time limit or idle.
#include <stdexcept>
#include <utility>

#include "ns3/object-factory.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "sim/network.h"
#include "sim/ns3/step_scheduler.h"
#include "sim/ns3/topology.h"

namespace ferry::sim {
namespace net {
namespace {

// Hands frames that reach a host's NIC to the NIC.
class HostPort final : public FrameSink {
 public:
  FramePort* port = nullptr;
  void on_frame(LinkDevice&, Frame* frame) override { port->receive(frame); }
};

class Ns3Network final : public Network {
 public:
  Ns3Network(const SimulationConfig& config, FramePool& frames)
      : context_{frames, counters_} {
    ns3::RngSeedManager::SetSeed(config.seed);
    ns3::RngSeedManager::SetRun(config.run);
    ns3::ObjectFactory factory;
    factory.SetTypeId(StepScheduler::GetTypeId());
    ns3::Simulator::SetScheduler(factory);
    scheduler_ = StepScheduler::current();

    int64_t next_stream = 0;
    fabric_ = build_fabric(config, &context_, next_stream);
    host_ports_.resize(fabric_.nic_devices.size());
    for (size_t i = 0; i < fabric_.nic_devices.size(); ++i) {
      fabric_.nic_devices[i]->set_sink(&host_ports_[i]);
      auto stream = ns3::CreateObject<ns3::UniformRandomVariable>();
      stream->SetStream(next_stream++);
      draw_streams_.push_back(stream);
    }
    for (auto& sw : fabric_.switches) {
      auto stream = ns3::CreateObject<ns3::UniformRandomVariable>();
      stream->SetStream(next_stream++);
      sw->set_marking_stream(stream);
    }
    // ns-3 initialises nodes and devices in events at time 0: run them, so that a new
    // simulation is idle at time 0.
    run(0);
  }

  ~Ns3Network() override {
    // Drops pending events (their frames belong to the pool) and disposes every node,
    // device and channel before the objects they point to go.
    ns3::Simulator::Destroy();
  }

  uint32_t nic_count() const override { return static_cast<uint32_t>(fabric_.nic_devices.size()); }

  void attach(uint32_t nic, FramePort* port) override {
    host_ports_.at(nic).port = port;
    fabric_.nic_devices.at(nic)->set_source(port);
  }

  void wake(uint32_t nic) override { fabric_.nic_devices[nic]->wake(); }

  uint64_t now_ns() const override {
    return static_cast<uint64_t>(ns3::Simulator::Now().GetNanoSeconds());
  }

  void schedule(uint64_t at_ns, std::function<void()> fn) override {
    const uint64_t now = now_ns();
    ns3::Simulator::Schedule(ns3::NanoSeconds(at_ns > now ? at_ns - now : 0),
                             [fn = std::move(fn)] { fn(); });
  }

  bool step() override {
    if (scheduler_->IsEmpty()) return false;
    // A stop event at the next instant, scheduled after everything already there: the
    // run ends once that instant's events ran.
    ns3::Simulator::Stop(ns3::NanoSeconds(scheduler_->next_time() - now_ns()));
    ns3::Simulator::Run();
    return true;
  }

  void run_until(uint64_t t_ns) override {
    const uint64_t now = now_ns();
    if (t_ns > now) {
      ns3::Simulator::Stop(ns3::NanoSeconds(t_ns - now));
      ns3::Simulator::Run();
    }
    // Events scheduled for t_ns itself while running it.
    while (!scheduler_->IsEmpty() && scheduler_->next_time() <= t_ns) step();
  }

  bool run(uint64_t limit_ns) override {
    if (scheduler_->IsEmpty()) return true;
    const uint64_t now = now_ns();
    ns3::EventId limit = ns3::Simulator::Schedule(
        ns3::NanoSeconds(limit_ns > now ? limit_ns - now : 0), &ns3::Simulator::Stop);
    scheduler_->set_sentinel(limit.PeekEventImpl());
    ns3::Simulator::Run();
    if (!limit.IsExpired()) ns3::Simulator::Remove(limit);
    scheduler_->set_sentinel(nullptr);
    return scheduler_->IsEmpty();
  }

  void stop() override { ns3::Simulator::Stop(); }
  bool idle() const override { return scheduler_->IsEmpty(); }

  uint32_t draw(uint32_t nic, uint32_t bound) override {
    return bound <= 1 ? 0 : draw_streams_[nic]->GetInteger(0, bound - 1);
  }

  void set_link_up(const LinkId& id, bool up) override {
    const Link& link = find(id);
    link.a->set_up(up);
    link.b->set_up(up);
  }

  void set_link_loss(const LinkId& id, double loss) override {
    const Link& link = find(id);
    link.a->set_loss(loss);
    link.b->set_loss(loss);
  }

  double link_gbps(const LinkId& id) const override { return find(id).a->gbps(); }
  uint64_t link_delay_ns(const LinkId& id) const override { return find(id).a->delay_ns(); }

  NetworkCounters counters() const override {
    NetworkCounters counters = counters_;
    for (const Link& link : fabric_.links) counters.pfc_paused_ns += link.a->paused_ns() + link.b->paused_ns();
    return counters;
  }

 private:
  const Link& find(const LinkId& id) const {
    const Link* link = fabric_.find(id);
    if (link == nullptr) throw std::out_of_range("sim: the topology has no such link");
    return *link;
  }

  NetworkCounters counters_;
  LinkContext context_;
  StepScheduler* scheduler_ = nullptr;
  Fabric fabric_;
  std::vector<HostPort> host_ports_;
  std::vector<ns3::Ptr<ns3::UniformRandomVariable>> draw_streams_;
};

}  // namespace
}  // namespace net

std::unique_ptr<Network> make_ns3_network(const SimulationConfig& config, FramePool& frames) {
  return std::make_unique<net::Ns3Network>(config, frames);
}

}  // namespace ferry::sim
