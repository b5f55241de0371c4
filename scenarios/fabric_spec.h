// FabricSpec: which provider carries the scenario, and that provider's parameters.
//
// The provider's own structure is the only one present: a replayer visits the variant.
// Rates and NIC counts come from the cluster (ClusterSpec), not from here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "scenarios/named.h"
#include "sim/config.h"

namespace ferry::scenarios {

enum class ProviderKind { kEmu, kSim, kVerbs, kTcp };  // in the order of FabricSpec::params

inline constexpr Named<ProviderKind> kProviderNames[] = {
    {"emu", ProviderKind::kEmu},
    {"sim", ProviderKind::kSim},
    {"verbs", ProviderKind::kVerbs},
    {"tcp", ProviderKind::kTcp},
};

// emu: the in-process emulator (emu/fabric.h).
enum class EmuMode { kFast, kDeterministic };

inline constexpr Named<EmuMode> kEmuModeNames[] = {
    {"fast", EmuMode::kFast},
    {"deterministic", EmuMode::kDeterministic},
};

struct EmuFabric {
  // Deterministic by default: it is the mode with a timing model and a reproducible run.
  EmuMode mode = EmuMode::kDeterministic;
  uint64_t seed = 1;
  uint64_t reorder_window_ns = 5'000;  // SRD endpoints: extra delay drawn from [0, window)
  double loss = 0;                     // per packet on every NIC; deterministic mode only
  uint64_t delay_ns = 1'000;           // one-way propagation
};

// sim: the ns-3 packet-level simulation.
enum class SimTransport {
  kRoce,  // RC over RoCE v2: ordered, go-back-N
  kSrd,   // EFA-like SRD: unordered, sprayed over paths, selective retransmission
};

inline constexpr Named<SimTransport> kSimTransportNames[] = {
    {"roce", SimTransport::kRoce},
    {"srd", SimTransport::kSrd},
};

enum class Retransmit {
  kGoBackN,     // resend from the lost packet
  kGoBackZero,  // resend the whole message
};

inline constexpr Named<Retransmit> kRetransmitNames[] = {
    {"go_back_n", Retransmit::kGoBackN},
    {"go_back_zero", Retransmit::kGoBackZero},
};

// The ECN and DCQCN defaults are sim's own (sim/config.h: the paper's), so that a
// scenario and a SimulationConfig left at their defaults run the same DCQCN.
inline constexpr sim::CongestionConfig kDcqcnDefaults{};

// RED-style ECN marking at the switch egress queues: no mark below kmin, a probability
// rising linearly to pmax at kmax, every packet above kmax.
struct EcnMarking {
  uint64_t kmin_bytes = kDcqcnDefaults.kmin_bytes;
  uint64_t kmax_bytes = kDcqcnDefaults.kmax_bytes;
  double pmax = kDcqcnDefaults.pmax;
};

// DCQCN at the senders (reaction point) and receivers (notification point).
struct Dcqcn {
  double g = kDcqcnDefaults.g;                                        // gain of the congestion estimate alpha
  uint64_t alpha_timer_ns = kDcqcnDefaults.alpha_timer_ns;            // alpha decays when no CNP came for this long
  uint64_t rate_timer_ns = kDcqcnDefaults.rate_increase_timer_ns;     // rate increase period
  uint64_t byte_counter_bytes = kDcqcnDefaults.byte_counter_bytes;    // rate increase every this many bytes sent
  double rate_ai_gbps = kDcqcnDefaults.additive_increase_gbps;        // additive increase step
  double rate_hai_gbps = kDcqcnDefaults.hyper_increase_gbps;          // hyper increase step
  uint32_t fast_recovery_steps = kDcqcnDefaults.fast_recovery_steps;  // increase periods spent in fast recovery
  uint64_t cnp_interval_ns = kDcqcnDefaults.cnp_interval_ns;          // at most one CNP per flow per interval
};

struct SimFabric {
  uint64_t seed = 1;
  SimTransport transport = SimTransport::kRoce;
  bool pfc = true;                               // roce: lossless (pauses instead of drops); false: lossy
  double loss = 0;                               // per MTU frame on every link; needs pfc false on roce
  Retransmit retransmit = Retransmit::kGoBackN;  // roce
  std::optional<EcnMarking> ecn;                 // roce; absent: no marking
  std::optional<Dcqcn> dcqcn;                    // roce; absent: no rate control; needs ecn
  uint64_t link_delay_ns = 500;                  // one-way propagation per link
};

// verbs: real NICs through rdma-core.
struct VerbsFabric {
  // A device is used when its name contains one of these; empty: every device.
  std::vector<std::string> devices;
  std::optional<uint32_t> port;        // absent: 1
  std::optional<uint32_t> gid_index;   // absent: a RoCE v2 GID with an IPv4 address
  std::optional<uint32_t> max_inline;  // bytes sent inline in a work request; absent: 64
};

// tcp: the tcp provider over this host's loopback, in wall-clock time (where there is no
// RDMA). No keys yet.
struct TcpFabric {};

struct FabricSpec {
  std::variant<EmuFabric, SimFabric, VerbsFabric, TcpFabric> params;

  ProviderKind provider() const { return static_cast<ProviderKind>(params.index()); }
};

}  // namespace ferry::scenarios
