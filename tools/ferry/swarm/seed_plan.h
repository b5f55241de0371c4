// SeedPlan: everything one swarm seed draws, before anything runs: the cluster, the
// traffic (engine writes, a collective, a KV migration, a weight broadcast, a pipeline
// link) and the fault schedule. A plan is a pure function of its seed, so a seed names a run
// (docs/reliability.md, "Swarm").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "transport/provider.h"
#include "transport/workloads/coll/algorithm.h"

namespace ferry::swarm {

struct ClusterDraw {
  uint32_t ranks = 2;             // one node per rank
  std::vector<double> rail_gbps;  // one entry per rail (NIC) of every node
  EndpointKind kind = EndpointKind::kRc;
  double loss = 0;                     // per packet, every link, from the start
  uint64_t propagation_delay_ns = 1'000;
  uint64_t srd_reorder_window_ns = 5'000;
};

enum class TransferKind : uint8_t { kWrite, kWriteWithImm, kPaged };
const char* to_string(TransferKind kind);

// One engine transfer from `src` to `dst`, posted at `at_ns` (virtual time). It reads
// the source area of src's buffer and lands in a destination slot of dst's buffer that
// no other transfer touches, so each one's bytes can be checked alone.
struct TransferDraw {
  TransferKind kind = TransferKind::kWrite;
  uint32_t src = 0;
  uint32_t dst = 1;
  uint64_t at_ns = 0;
  uint64_t bytes = 0;       // kWrite, kWriteWithImm
  uint64_t src_offset = 0;  // in the source area
  uint64_t dst_offset = 0;  // in dst's buffer: its slot
  uint16_t tag = 0;         // kWriteWithImm, kPaged: the notification the target waits for
  // kPaged: page i goes from source page src_pages[i] to slot page dst_pages[i].
  uint64_t page_bytes = 0;
  std::vector<uint32_t> src_pages;
  std::vector<uint32_t> dst_pages;

  uint64_t payload_bytes() const { return kind == TransferKind::kPaged ? page_bytes * src_pages.size() : bytes; }
};

// One all-reduce over every rank, of exact inputs (fp32 small integers).
struct CollectiveDraw {
  bool present = false;
  coll::Algorithm algorithm = coll::Algorithm::kAuto;
  uint64_t count = 0;          // elements per rank
  uint64_t scratch_bytes = 0;  // per rank: small scratch means many rounds
  uint64_t at_ns = 0;
};

// One KV-cache request migrated from prefill ranks [0, prefill_tp) to decode ranks
// [prefill_tp, prefill_tp + decode_tp), its layers handed over `layer_gap_ns` apart.
struct KvDraw {
  bool present = false;
  uint32_t prefill_tp = 1;
  uint32_t decode_tp = 1;
  uint32_t blocks = 1;
  uint64_t at_ns = 0;
  uint64_t layer_gap_ns = 0;
};

// One weight broadcast from `root` to every rank, down a chain or tree of `fanout`.
struct BroadcastDraw {
  bool present = false;
  uint32_t root = 0;
  uint64_t bytes = 0;
  uint32_t fanout = 1;
  uint64_t chunk_bytes = 0;
  uint32_t chunks_in_flight = 1;
  uint64_t at_ns = 0;
};

// A pipeline link from stage `src` to stage `dst`: `micro_batches` messages of up to
// `max_bytes` through `credits` receive slots.
struct PipelineDraw {
  bool present = false;
  uint32_t src = 0;
  uint32_t dst = 1;
  uint32_t credits = 1;
  uint64_t max_bytes = 0;
  uint32_t micro_batches = 0;
  uint64_t at_ns = 0;

  // Micro-batch m's size: 0 and max_bytes both occur.
  uint64_t bytes(uint64_t m) const { return m % 5 == 3 ? 0 : m % 4 == 1 ? max_bytes : (m * 7919 + 13) % max_bytes + 1; }
};

enum class FaultKind : uint8_t {
  kLossRate,       // a NIC's link starts losing packets: only delay
  kSrdDuplicates,  // SRD: the next operations from a NIC are delivered twice
  kLostAcks,       // the next operations from a NIC land but their acks are lost
  kLinkFlap,       // a NIC's link goes down, and up again `duration_ns` later
  kNicDeath,       // a NIC dies for good
  kNodeLoss,       // a node vanishes silently
};
const char* to_string(FaultKind kind);

struct FaultDraw {
  FaultKind kind = FaultKind::kLossRate;
  uint64_t at_ns = 0;
  uint32_t node = 0;
  uint32_t nic = 0;
  uint32_t count = 0;        // kSrdDuplicates, kLostAcks
  double probability = 0;    // kLossRate
  uint64_t duration_ns = 0;  // kLinkFlap

  // Whether the fault may make work on its node fail (a rail lost for a peer, or the
  // node gone); the others may only delay it or be absorbed by the engine.
  bool disruptive() const {
    return kind == FaultKind::kLostAcks || kind == FaultKind::kLinkFlap || kind == FaultKind::kNicDeath ||
           kind == FaultKind::kNodeLoss;
  }
};

struct SeedPlan {
  uint64_t seed = 0;
  ClusterDraw cluster;
  uint64_t source_bytes = 0;  // per rank: the area transfers read
  uint64_t buffer_bytes = 0;  // per rank: source area, then destination slots
  uint64_t transfer_timeout_ns = 0;
  // Liveness: probes while work waits on a peer, and how long a wait on a peer that
  // answers them may last (EngineConfig).
  uint64_t keepalive_interval_ns = 0;
  uint64_t peer_wait_timeout_ns = 0;
  // Small stripes and pieces put small transfers on every rail and in many pieces, so
  // that striping and failover are exercised without moving megabytes.
  uint64_t stripe_threshold_bytes = 0;
  uint64_t piece_bytes = 0;
  std::vector<TransferDraw> transfers;
  CollectiveDraw collective;
  KvDraw kv;
  BroadcastDraw broadcast;
  PipelineDraw pipeline;
  std::vector<FaultDraw> faults;

  // Whether the faults can cut two of `ranks` apart, so that work among them may fail:
  // one of them is lost, or between two of them every rail is struck on one side or
  // the other (a rail the engine declared down for a peer stays down). Work among ranks
  // that keep a rail must fail over to it and succeed.
  bool can_cut(const std::vector<uint32_t>& ranks) const;
  // The time of the last fault, 0 when none.
  uint64_t last_fault_ns() const;
};

// The plan of `seed`: the same seed always gives the same plan.
SeedPlan draw_plan(uint64_t seed);

// What a plan holds, a few lines of it, for `ferry swarm --seed N`.
std::string describe(const SeedPlan& plan);

}  // namespace ferry::swarm
