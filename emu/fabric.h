// emu: an in-process fabric of N nodes x M NICs that behaves like RDMA hardware.
//
// Each node is a Provider (transport/provider.h) whose devices are its NICs. Keys,
// ranges, rights and protection domains are checked as an HCA checks them, and a
// refused operation never touches memory. Data moves with one memcpy from the source
// list to the destination, like DMA.
//
// Two modes:
//  - kFast: real time, real threads. Work executes when posted, on the posting thread;
//    several threads may drive different nodes at once.
//  - kDeterministic: one thread and a virtual clock. Each NIC's transmit and receive
//    ports are shared evenly by the operations crossing them; a seeded generator
//    decides the other per-operation delays (retransmissions after loss) and the
//    delivery order of unordered (SRD) endpoints. Time moves only
//    through step()/run_until()/run_until_idle(), and every completion is recorded in a
//    trace whose hash a seed fixes bit for bit.
// docs/emulator.md describes the model and its departures from hardware.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "transport/cluster.h"
#include "transport/provider.h"
#include "transport/provider_support/trace_record.h"

namespace ferry::emu {

enum class Mode { kFast, kDeterministic };

struct NicConfig {
  double link_gbps = 100;
  uint32_t mtu = 4096;
  uint32_t max_sge = 16;
  bool ordered = true;    // offers RC endpoints
  bool unordered = true;  // offers SRD endpoints
  bool supports_rdma_read = true;
  // Per-packet loss on this NIC's link (deterministic mode): each lost packet costs a
  // retransmission, go-back-N for RC and selective for SRD.
  double loss_probability = 0;
  // Behaves as an EFA device does: SRD only, at most 2 entries per scatter-gather list,
  // and a work request that is not signalled is refused at post (rdma-core's efa
  // provider refuses it).
  bool efa_constraints = false;
};

struct FabricConfig {
  Mode mode = Mode::kFast;
  uint64_t seed = 1;
  uint32_t nodes = 2;
  // One entry per NIC of every node; rails may differ in rate.
  std::vector<NicConfig> nics = {NicConfig{}};
  // Deterministic-mode timing.
  uint64_t propagation_delay_ns = 1'000;
  uint64_t nic_processing_ns = 200;       // per operation, on top of serialisation
  uint64_t srd_reorder_window_ns = 5'000; // SRD: extra delay drawn from [0, window)
  bool record_trace = false;              // keep every record, not only the hash
};

class FabricImpl;

// The emulator is a Cluster (transport/cluster.h): it implements the whole seam.
class Fabric final : public Cluster {
 public:
  explicit Fabric(FabricConfig config);
  ~Fabric() override;
  Fabric(const Fabric&) = delete;
  Fabric& operator=(const Fabric&) = delete;

  const FabricConfig& config() const;

  // Cluster
  const char* provider_name() const override { return "emu"; }
  std::string mode() const override;
  size_t node_count() const override;
  size_t nics_per_node() const override { return config().nics.size(); }
  Provider& node(size_t index) override;
  bool virtual_time() const override { return config().mode == Mode::kDeterministic; }
  uint64_t now_ns() const override;
  // Driving virtual time (deterministic mode). In fast mode step() runs what is due.
  bool step() override;  // runs the next pending event; false when there is none
  // Deterministic mode: up to the next event or limit_ns; fast mode: what is due.
  void advance(uint64_t limit_ns) override;
  VoidResult inject(const FabricFault& fault) override;
  Result<NicCounters> nic_counters(uint32_t node, uint32_t nic) const override;
  // Deterministic mode: runs the next pending event if it is due at or before t_ns;
  // false when none is (the clock stays). Fast mode: as step().
  bool step_until(uint64_t t_ns);
  // Runs events until none is left or max_events ran; returns how many ran.
  size_t run_until_idle(size_t max_events = 100'000'000);
  // Deterministic mode: runs every event due at or before t_ns and leaves the clock at
  // t_ns. Fast mode: runs what is due now (real time cannot be skipped).
  void run_until(uint64_t t_ns) override;
  // Calls fn at virtual time t_ns (fast mode: at the first progress after t_ns).
  void at(uint64_t t_ns, std::function<void()> fn) override;

  // Faults, applied when called; schedule them with at() to time them.
  void set_link_up(uint32_t node, uint32_t nic, bool up);
  void kill_nic(uint32_t node, uint32_t nic);  // its endpoints flush; peers time out
  void vanish_node(uint32_t node);             // as if the process died silently
  void set_loss_probability(uint32_t node, uint32_t nic, double probability);
  // The next `count` operations sent from this NIC land at the target (data, immediate,
  // recv completion) but their acknowledgement is lost: the initiator gets
  // kRetryExceeded and an RC endpoint goes to the error state. Reads are not affected.
  void lose_acks(uint32_t node, uint32_t nic, uint32_t count);
  // The next `count` SRD operations sent from this NIC are delivered twice at the target
  // (a write lands twice, a send or write-with-imm takes two recvs); the initiator sees
  // one completion.
  void duplicate_srd(uint32_t node, uint32_t nic, uint32_t count);

  // Deterministic mode: a hash of every completion (time, place, cookie, status,
  // size, immediate) and fault so far; the records themselves when record_trace.
  uint64_t trace_hash() const override;
  const std::vector<TraceRecord>& trace() const;

 private:
  std::unique_ptr<FabricImpl> impl_;
};

}  // namespace ferry::emu
