// ReplayFabric: what a replay needs from the fabric under its engines, whichever provider
// carries it (emu, sim, verbs). The World drives engines over it without knowing which.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scenarios/scenario.h"
#include "transport/provider.h"

namespace ferry::replay {

class ReplayFabric {
 public:
  virtual ~ReplayFabric() = default;

  virtual const char* provider_name() const = 0;  // "emu", "sim", "verbs"
  virtual std::string mode() const = 0;            // e.g. "deterministic", "roce", "wall-clock"
  // The provider rank `rank`'s engine opens (ranks of one node may share one).
  virtual Provider& provider_for(uint32_t rank) = 0;
  // Nanoseconds since the fabric was built: virtual on emu deterministic and sim.
  virtual uint64_t now_ns() const = 0;
  // The engines' clock reading at the replay's start: an engine timestamp minus this is
  // replay time (emu and sim: 0, their engines run on the replay's own clock).
  virtual uint64_t engine_origin_ns() const { return 0; }
  virtual bool virtual_time() const = 0;
  // Lets the fabric move while no engine had anything to do: up to its next completion,
  // at most until `limit_ns` (virtual time then stands at `limit_ns` if nothing was
  // pending). Real-time fabrics just run what is due.
  virtual void advance(uint64_t limit_ns) = 0;
  // Schedules the scenario's faults at their times; kinds the fabric cannot apply, or
  // applies approximately, are said in `notes`.
  virtual void schedule_faults(const std::vector<scenarios::FaultSpec>& faults, const scenarios::ClusterSpec& cluster,
                               uint32_t ranks, std::vector<std::string>& notes) = 0;
  virtual uint64_t faults_applied() const = 0;
  // A hash of every completion and fault so far (0 where the fabric keeps none).
  virtual uint64_t trace_hash() const = 0;
};

// The fabric a scenario names (or `kind`, with that provider's defaults), for `ranks`
// ranks. Null with `error` set when it cannot be built (e.g. no RDMA device for verbs);
// `notes` gets the choices made in mapping the scenario (docs/cli.md).
std::unique_ptr<ReplayFabric> make_emu_fabric(const scenarios::Scenario& scenario, uint64_t seed, uint32_t ranks,
                                              std::vector<std::string>& notes, std::string& error);
std::unique_ptr<ReplayFabric> make_sim_fabric(const scenarios::Scenario& scenario, uint64_t seed, uint32_t ranks,
                                              std::vector<std::string>& notes, std::string& error);
std::unique_ptr<ReplayFabric> make_verbs_fabric(const scenarios::Scenario& scenario, uint32_t ranks,
                                                std::vector<std::string>& notes, std::string& error);

}  // namespace ferry::replay
