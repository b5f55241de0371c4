// The `fabric` section: the provider and its parameters.
#include <array>
#include <limits>
#include <span>
#include <string>

#include "scenarios/limits.h"
#include "scenarios/mapping_reader.h"
#include "scenarios/section_parsers.h"
#include "scenarios/units.h"

namespace ferry::scenarios {
namespace {

// Each provider's keys besides `provider`, so that a key of another provider is refused
// with the reason ("applies to provider sim, not emu") rather than as unknown.
constexpr std::string_view kEmuKeys[] = {"mode", "seed", "reorder_window", "loss", "delay"};
constexpr std::string_view kSimKeys[] = {"seed",       "transport", "pfc",   "loss",
                                         "retransmit", "ecn",       "dcqcn", "link_delay"};
constexpr std::string_view kVerbsKeys[] = {"devices", "port", "gid_index", "max_inline"};
constexpr std::array<std::span<const std::string_view>, 4> kProviderKeys = {kEmuKeys, kSimKeys, kVerbsKeys, {}};

constexpr WholeRange kDurationRange{0, kMaxDuration};
constexpr WholeRange kPositiveDuration{1, kMaxDuration};

bool contains(std::span<const std::string_view> keys, std::string_view key) {
  for (std::string_view k : keys) {
    if (k == key) return true;
  }
  return false;
}

void forbid_other_providers_keys(MappingReader& reader, ProviderKind provider) {
  const auto own = kProviderKeys[static_cast<size_t>(provider)];
  const std::string own_name(name_of(kProviderNames, provider));
  for (const Named<ProviderKind>& other : kProviderNames) {
    if (other.value == provider) continue;
    for (std::string_view key : kProviderKeys[static_cast<size_t>(other.value)]) {
      if (!contains(own, key)) {
        reader.forbid(key, "applies to provider " + std::string(other.name) + ", not " + own_name);
      }
    }
  }
}

EmuFabric parse_emu(MappingReader& reader) {
  EmuFabric emu;
  emu.mode = reader.choice("mode", Presence::kOptional, kEmuModeNames).value_or(emu.mode);
  emu.seed = reader.whole("seed", Presence::kOptional).value_or(emu.seed);
  emu.reorder_window_ns =
      reader.duration("reorder_window", Presence::kOptional, kDurationRange).value_or(emu.reorder_window_ns);
  emu.loss = reader.real("loss", Presence::kOptional, RealRange::probability_below_one()).value_or(emu.loss);
  emu.delay_ns = reader.duration("delay", Presence::kOptional, kDurationRange).value_or(emu.delay_ns);
  if (emu.loss > 0 && emu.mode == EmuMode::kFast) {
    reader.error("loss", "emu models loss only in mode deterministic (fast mode has no timing model)");
  }
  return emu;
}

std::optional<EcnMarking> parse_ecn(const YamlNode& node, const std::string& field, Diagnostics& diagnostics) {
  if (!expect_mapping(node, field, diagnostics)) return std::nullopt;
  MappingReader reader(node, field, diagnostics);
  EcnMarking ecn;
  ecn.kmin_bytes = reader.size("kmin", Presence::kOptional, {0, kMaxBytes}).value_or(ecn.kmin_bytes);
  ecn.kmax_bytes = reader.size("kmax", Presence::kOptional, {1, kMaxBytes}).value_or(ecn.kmax_bytes);
  ecn.pmax = reader.real("pmax", Presence::kOptional, RealRange{0, 1, true, false}).value_or(ecn.pmax);
  if (ecn.kmin_bytes > ecn.kmax_bytes) {
    reader.error("kmin", "must be at most kmax (" + format_bytes(ecn.kmax_bytes) + ")");
  }
  reader.finish();
  return ecn;
}

std::optional<Dcqcn> parse_dcqcn(const YamlNode& node, const std::string& field, Diagnostics& diagnostics) {
  if (!expect_mapping(node, field, diagnostics)) return std::nullopt;
  MappingReader reader(node, field, diagnostics);
  Dcqcn dcqcn;
  dcqcn.g = reader.real("g", Presence::kOptional, RealRange{0, 1, true, false}).value_or(dcqcn.g);
  dcqcn.alpha_timer_ns =
      reader.duration("alpha_timer", Presence::kOptional, kPositiveDuration).value_or(dcqcn.alpha_timer_ns);
  dcqcn.rate_timer_ns =
      reader.duration("rate_timer", Presence::kOptional, kPositiveDuration).value_or(dcqcn.rate_timer_ns);
  dcqcn.byte_counter_bytes =
      reader.size("byte_counter", Presence::kOptional, {1, kMaxBytes}).value_or(dcqcn.byte_counter_bytes);
  dcqcn.rate_ai_gbps = reader.rate("rate_ai", Presence::kOptional).value_or(dcqcn.rate_ai_gbps);
  dcqcn.rate_hai_gbps = reader.rate("rate_hai", Presence::kOptional).value_or(dcqcn.rate_hai_gbps);
  dcqcn.fast_recovery_steps = static_cast<uint32_t>(
      reader.whole("fast_recovery_steps", Presence::kOptional, {0, 1000}).value_or(dcqcn.fast_recovery_steps));
  dcqcn.cnp_interval_ns =
      reader.duration("cnp_interval", Presence::kOptional, kDurationRange).value_or(dcqcn.cnp_interval_ns);
  reader.finish();
  return dcqcn;
}

SimFabric parse_sim(MappingReader& reader) {
  SimFabric sim;
  sim.seed = reader.whole("seed", Presence::kOptional, {1, std::numeric_limits<uint32_t>::max()}).value_or(sim.seed);
  sim.transport = reader.choice("transport", Presence::kOptional, kSimTransportNames).value_or(sim.transport);
  sim.loss = reader.real("loss", Presence::kOptional, RealRange::probability_below_one()).value_or(sim.loss);
  sim.link_delay_ns = reader.duration("link_delay", Presence::kOptional, kDurationRange).value_or(sim.link_delay_ns);
  if (sim.transport == SimTransport::kSrd) {
    for (std::string_view key : {"pfc", "retransmit", "ecn", "dcqcn"}) {
      reader.forbid(key,
                    "applies to transport roce, not srd (SRD retransmits selectively and runs its own "
                    "congestion control)");
    }
    sim.pfc = false;
    return sim;
  }
  sim.pfc = reader.flag("pfc", Presence::kOptional).value_or(sim.pfc);
  sim.retransmit = reader.choice("retransmit", Presence::kOptional, kRetransmitNames).value_or(sim.retransmit);
  if (const YamlNode* ecn = reader.get("ecn")) sim.ecn = parse_ecn(*ecn, reader.field("ecn"), reader.diagnostics());
  if (const YamlNode* dcqcn = reader.get("dcqcn")) {
    sim.dcqcn = parse_dcqcn(*dcqcn, reader.field("dcqcn"), reader.diagnostics());
    if (!reader.has("ecn")) reader.error("dcqcn", "DCQCN reacts to ECN marks; add fabric.ecn");
  }
  if (sim.pfc && sim.loss > 0) {
    reader.error("loss", "a lossless fabric (pfc: true) drops nothing; set pfc: false to model loss");
  }
  return sim;
}

VerbsFabric parse_verbs(MappingReader& reader) {
  VerbsFabric verbs;
  if (auto port = reader.whole("port", Presence::kOptional, {1, 255})) verbs.port = static_cast<uint32_t>(*port);
  if (auto gid = reader.whole("gid_index", Presence::kOptional, {0, 255})) verbs.gid_index = static_cast<uint32_t>(*gid);
  if (auto inline_bytes = reader.size("max_inline", Presence::kOptional, {0, 4096})) {
    verbs.max_inline = static_cast<uint32_t>(*inline_bytes);
  }
  const YamlNode* devices = reader.get("devices");
  if (devices == nullptr) return verbs;
  const std::string field = reader.field("devices");
  const std::vector<const YamlNode*> items = one_or_many(*devices);
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item = devices->is_sequence() ? indexed_field(field, i) : field;
    if (std::optional<std::string> name = read_text(*items[i], item, reader.diagnostics())) {
      verbs.devices.push_back(std::move(*name));
    }
  }
  return verbs;
}

}  // namespace

std::optional<FabricSpec> parse_fabric(const YamlNode& node, Diagnostics& diagnostics) {
  const size_t errors_before = diagnostics.count();
  if (!expect_mapping(node, "fabric", diagnostics)) return std::nullopt;
  MappingReader reader(node, "fabric", diagnostics);
  const std::optional<ProviderKind> provider = reader.choice("provider", Presence::kRequired, kProviderNames);
  // Without a provider, which keys belong is unknown: its error alone is reported.
  if (!provider) return std::nullopt;
  FabricSpec fabric;
  switch (*provider) {
    case ProviderKind::kEmu:
      fabric.params = parse_emu(reader);
      break;
    case ProviderKind::kSim:
      fabric.params = parse_sim(reader);
      break;
    case ProviderKind::kVerbs:
      fabric.params = parse_verbs(reader);
      break;
    case ProviderKind::kTcp:
      fabric.params = TcpFabric{};
      break;
  }
  forbid_other_providers_keys(reader, *provider);
  reader.finish();
  if (diagnostics.count() != errors_before) return std::nullopt;
  return fabric;
}

}  // namespace ferry::scenarios
