// What a simulation is made of: hosts, NICs, topology, links, transport and its knobs.
//
// Plain C++ that compiles as C++17 and C++20: the ns-3 side of the simulation (built as
// C++17, because ns-3's headers are not C++20 clean) and the provider side (C++20) both
// read it. docs/simulation.md explains every field.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace ferry::sim {

enum class Topology : uint8_t {
  kSingleSwitch,  // every NIC on one switch
  kLeafSpine,     // hosts under leaves, every leaf linked to every spine
};

// What every NIC of the simulation offers: RoCE RC endpoints (ordered, go-back-N) or
// EFA-like SRD endpoints (unordered, sprayed over paths, selective retransmission).
enum class Transport : uint8_t { kRoceRc, kSrd };

struct LinkConfig {
  double gbps = 0;          // 0: derived (access links: the NIC's rate; fabric links: below)
  uint64_t delay_ns = 500;  // one-way propagation
  double loss = 0;          // per MTU frame, each direction, in [0, 1)
};

struct NicConfig {
  double gbps = 400;
};

// A link of the topology. Access links join a host's NIC to its switch (the only switch,
// or its leaf); fabric links join a leaf to a spine.
struct LinkId {
  enum class Kind : uint8_t { kAccess, kFabric };
  Kind kind = Kind::kAccess;
  uint32_t a = 0;  // access: host; fabric: leaf
  uint32_t b = 0;  // access: NIC; fabric: spine

  static LinkId access(uint32_t host, uint32_t nic) { return {Kind::kAccess, host, nic}; }
  static LinkId fabric(uint32_t leaf, uint32_t spine) { return {Kind::kFabric, leaf, spine}; }
  bool operator==(const LinkId& o) const { return kind == o.kind && a == o.a && b == o.b; }
};

// DCQCN (Zhu et al., SIGCOMM 2015) with ECN marking at the switches. Off by default.
//
// The defaults are the paper's, for 40 Gb/s links (docs/simulation.md gives the source of
// each). They are the only DCQCN defaults in the tree: the scenario format
// (scenarios/fabric_spec.h) takes its own from this struct.
struct CongestionConfig {
  bool enabled = false;
  // Switch egress marking on the queue a packet joins: none below kmin, probability
  // rising linearly to pmax at kmax, every packet above kmax.
  uint64_t kmin_bytes = 5'000;
  uint64_t kmax_bytes = 200'000;
  double pmax = 0.01;
  // Notification point: at most one CNP per endpoint in this interval (the paper's N).
  uint64_t cnp_interval_ns = 50'000;
  // Reaction point.
  double g = 1.0 / 256;                        // alpha's gain
  uint64_t alpha_timer_ns = 55'000;            // alpha decays once per interval without a CNP
  uint64_t rate_increase_timer_ns = 55'000;
  uint64_t byte_counter_bytes = 10'000'000;    // a rate increase every this many bytes sent
  uint32_t fast_recovery_steps = 5;
  double additive_increase_gbps = 0.04;        // R_AI, 40 Mb/s
  double hyper_increase_gbps = 0.4;            // R_HAI, 400 Mb/s (10 R_AI)
  double min_rate_gbps = 0.1;
};

// Priority flow control, one class for all traffic: a switch whose buffered bytes that
// came in on a port pass xoff pauses the sender at the other end of that port until
// they drain below xon. Off by default. No headroom is reserved: what arrives after
// XOFF (about a round trip of data) goes into the egress queue, so switch buffers must
// hold it (docs/simulation.md, "XOFF, XON and headroom").
struct PfcConfig {
  bool enabled = false;
  uint64_t xoff_bytes = 512 << 10;
  uint64_t xon_bytes = 256 << 10;
};

struct SimulationConfig {
  // Randomness: ns-3's RngSeedManager seed and run; every random stream is assigned
  // explicitly, so the same seed and run give the same simulation bit for bit.
  uint32_t seed = 1;
  uint64_t run = 1;

  uint32_t hosts = 2;
  std::vector<NicConfig> nics = {NicConfig{}};  // one entry per NIC of every host

  Topology topology = Topology::kSingleSwitch;
  uint32_t hosts_per_leaf = 2;    // leaf-spine only
  uint32_t spines = 2;            // leaf-spine only
  double oversubscription = 1.0;  // leaf downlink capacity / uplink capacity, >= 1

  LinkConfig access_link;  // host NIC <-> switch or leaf
  LinkConfig fabric_link;  // leaf <-> spine; gbps 0: derived from the oversubscription
  std::vector<std::pair<LinkId, LinkConfig>> link_overrides;

  uint32_t mtu = 4096;         // payload bytes per frame
  uint32_t header_bytes = 62;  // per frame on the wire: Ethernet, IP, UDP, BTH, ICRC, FCS
  // Fidelity knob: one simulated packet stands for this many MTU frames (wire time and
  // loss are those of the frames). 1 is full fidelity.
  uint32_t frames_per_packet = 1;

  Transport transport = Transport::kRoceRc;
  uint32_t max_sge = 16;

  // Counts of packets below are of MTU frames; with frames_per_packet > 1 they are
  // divided by it, so that the bytes they stand for stay the same.
  // RC: the responder acknowledges at the end of each message and every this many packets.
  uint32_t ack_every_packets = 16;
  // RC: on a NAK, resend from the first packet of the message instead of the lost one.
  bool go_back_zero = false;

  // SRD: packets of a message are sprayed over this many paths, chosen per packet.
  uint32_t srd_paths = 8;
  // SRD: packets in flight per endpoint.
  uint32_t srd_window_packets = 256;
  // SRD: a packet is sent again after an RTO of srtt + 4 rttvar (at least this, at most
  // the endpoint's retry_timeout_ns), doubling on every resend.
  uint64_t srd_min_rto_ns = 10'000;

  // Switch egress queues: drop-tail capacity per port.
  uint64_t switch_port_buffer_bytes = 4 << 20;

  CongestionConfig congestion;
  PfcConfig pfc;

  bool record_trace = false;  // keep every trace record, not only the hash
};

// Throws std::invalid_argument naming the first field outside its bounds
// (docs/simulation.md lists them).
void validate(const SimulationConfig& config);

}  // namespace ferry::sim
