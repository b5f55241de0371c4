#include "benchmarks/coll_sweep.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll {

using testing::CollWorld;
using testing::count_wrong;
using testing::exact_reduction;
using testing::exact_value;
using testing::fill_exact;
using testing::WorldOptions;

namespace {

constexpr std::pair<SweepKind, const char*> kKinds[] = {
    {SweepKind::kAllReduce, "all_reduce"}, {SweepKind::kAllGather, "all_gather"},
    {SweepKind::kReduceScatter, "reduce_scatter"}, {SweepKind::kAllToAll, "all_to_all"},
    {SweepKind::kSendRecv, "send_recv"}, {SweepKind::kBroadcast, "broadcast"},
};

const char* name_of(SweepKind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "?";
}

template <typename T>
bool parse_number(std::string_view text, T* out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

WorldOptions world_options(const SweepOptions& o) {
  WorldOptions w;
  w.provider = o.provider;
  w.ranks = o.ranks;
  w.seed = o.seed;
  w.rail_gbps = {o.rail_gbps};
  if (o.leaf_spine) w.sim_leaf_spine = o.leaf_spine_shape;
  w.sim_pfc = o.flow_control.find("pfc") != std::string::npos;
  w.sim_dcqcn = o.flow_control.find("dcqcn") != std::string::npos;
  return w;
}

// One row's shape: elements per rank's block and the nccl-tests size and count.
struct Shape {
  size_t block = 0;   // elements each rank contributes (all-gather, reduce-scatter, all-to-all) or all
  uint64_t bytes = 0;  // the size column
  size_t count = 0;    // the count column
};

class Bench {
 public:
  explicit Bench(const SweepOptions& o)
      : o_(o), world_(world_options(o), o.scratch_bytes), recv_(world_.cluster, o.max_bytes), send_(o.ranks) {
    for (uint32_t r = 0; r < o.ranks; ++r) {
      send_[r].assign(o.max_bytes, 0);
      auto registered = world_.cluster.engine(r).register_memory(send_[r].data(), send_[r].size());
      if (!registered.ok()) throw std::runtime_error(registered.error().to_string());
    }
  }

  // Connects every pair with one small all-reduce, outside any measurement.
  bool warm_up() {
    auto results = world_.run([&](uint32_t r) {
      return all_reduce(world_.comm(r), recv_.bytes(r).data(), 1, DType::kFloat32, ReduceOp::kSum,
                        Algorithm::kOneShot);
    });
    return report_failures(results);
  }

  // Prints one table; returns the wrong elements over every size (or 1 if a call failed).
  uint64_t run(SweepKind kind) {
    const size_t esize = element_bytes(o_.dtype);
    std::printf("#\n# %s, %u ranks, algorithm %s\n#\n", name_of(kind), o_.ranks, algorithm_of(kind));
    std::printf("# %10s  %12s  %8s  %6s  %6s  %12s  %12s  %12s  %7s\n", "size", "count", "type", "redop", "root",
                "time(us)", "algbw(GB/s)", "busbw(GB/s)", "#wrong");
    uint64_t total_wrong = 0;
    uint64_t previous = 0;
    for (uint64_t size = o_.min_bytes; size <= o_.max_bytes; size *= 2) {
      const Shape shape = shape_of(kind, size, esize);
      if (shape.block == 0 || shape.bytes == previous) continue;
      previous = shape.bytes;
      fill(kind, shape);
      uint64_t elapsed = 0;
      for (uint32_t it = 0; it < o_.iters; ++it) {
        if (kind == SweepKind::kAllReduce || kind == SweepKind::kBroadcast) fill(kind, shape);  // in place
        const uint64_t start = world_.now_ns();
        auto results = world_.run([&](uint32_t r) { return call(kind, r, shape.block); });
        elapsed += world_.now_ns() - start;
        if (!report_failures(results)) return total_wrong + 1;
      }
      const uint64_t wrong = check(kind, shape);
      total_wrong += wrong;
      const double us = static_cast<double>(elapsed) / o_.iters / 1e3;
      const double algbw = static_cast<double>(shape.bytes) / (us * 1e3);  // GB/s
      std::printf("  %10llu  %12zu  %8s  %6s  %6d  %12.2f  %12.2f  %12.2f  %7llu\n",
                  static_cast<unsigned long long>(shape.bytes), shape.count, to_string(o_.dtype),
                  reduces(kind) ? to_string(o_.op) : "none", kind == SweepKind::kBroadcast ? 0 : -1, us, algbw,
                  algbw * bus_factor(kind), static_cast<unsigned long long>(wrong));
      std::fflush(stdout);
    }
    return total_wrong;
  }

 private:
  static bool reduces(SweepKind kind) { return kind == SweepKind::kAllReduce || kind == SweepKind::kReduceScatter; }

  const char* algorithm_of(SweepKind kind) const {
    if (kind == SweepKind::kSendRecv) return "write with notification";
    if (kind == SweepKind::kAllToAll) return "one_shot";
    return to_string(o_.algorithm);
  }

  // nccl-tests' bus bandwidth factors.
  double bus_factor(SweepKind kind) const {
    const double n = o_.ranks;
    switch (kind) {
      case SweepKind::kAllReduce: return 2 * (n - 1) / n;
      case SweepKind::kAllGather:
      case SweepKind::kReduceScatter:
      case SweepKind::kAllToAll: return (n - 1) / n;
      default: return 1;
    }
  }

  Shape shape_of(SweepKind kind, uint64_t size, size_t esize) const {
    const size_t elements = size / esize;
    if (kind == SweepKind::kAllReduce || kind == SweepKind::kSendRecv || kind == SweepKind::kBroadcast) {
      if (kind == SweepKind::kSendRecv && o_.ranks < 2) return {};
      return Shape{elements, elements * esize, elements};
    }
    const size_t block = elements / o_.ranks;
    return Shape{block, block * o_.ranks * esize, block * o_.ranks};
  }

  // Inputs: rank r's element at global index i is exact_value(r, i).
  void fill(SweepKind kind, const Shape& s) {
    const uint32_t n = o_.ranks;
    for (uint32_t r = 0; r < n; ++r) {
      switch (kind) {
        case SweepKind::kAllReduce:
        case SweepKind::kBroadcast: fill_exact(recv_.bytes(r).data(), s.block, o_.dtype, r, n, o_.seed); break;
        case SweepKind::kAllGather: fill_exact(send_[r].data(), s.block, o_.dtype, r, n, o_.seed); break;
        case SweepKind::kSendRecv:
          if (r == 0) fill_exact(send_[r].data(), s.block, o_.dtype, r, n, o_.seed);
          break;
        default: fill_exact(send_[r].data(), s.block * n, o_.dtype, r, n, o_.seed); break;
      }
    }
  }

  Task<TransferResult> call(SweepKind kind, uint32_t rank, size_t block) {
    Communicator& comm = world_.comm(rank);
    void* recv = recv_.bytes(rank).data();
    const void* send = send_[rank].data();
    switch (kind) {
      case SweepKind::kAllReduce: return all_reduce(comm, recv, block, o_.dtype, o_.op, o_.algorithm);
      case SweepKind::kAllGather: return all_gather(comm, send, recv, block, o_.dtype, forced(Collective::kAllGather));
      case SweepKind::kReduceScatter:
        return reduce_scatter(comm, send, recv, block, o_.dtype, o_.op, forced(Collective::kReduceScatter));
      case SweepKind::kAllToAll: return all_to_all(comm, send, recv, block, o_.dtype);
      case SweepKind::kBroadcast: return broadcast(comm, recv, block, o_.dtype, 0, forced(Collective::kBroadcast));
      case SweepKind::kSendRecv: break;
    }
    return send_recv(rank, block * element_bytes(o_.dtype));
  }

  Algorithm forced(Collective collective) const {
    return supports(collective, o_.algorithm) ? o_.algorithm : Algorithm::kAuto;
  }

  // Rank 0 writes into rank 1's buffer with a notification; rank 1 counts it.
  Task<TransferResult> send_recv(uint32_t rank, uint64_t bytes) {
    if (rank > 1) co_return TransferResult{};
    Group& group = world_.groups[rank];
    const uint16_t tag = group.next_tag(TagSpace::kUser);  // both ranks draw the same one
    Engine& engine = group.engine();
    if (rank == 1) co_return co_await arrival(engine, group.name(0), tag, 1);
    co_return co_await transfer([&](TransferDone done) {
      return engine.write(group.name(1), send_[0].data(), bytes, recv_.view(0).remote[1], 0, Notify{tag, 0},
                          std::move(done));
    });
  }

  // Wrong elements over every rank's output.
  uint64_t check(SweepKind kind, const Shape& s) {
    const uint32_t n = o_.ranks;
    const uint64_t seed = o_.seed;
    uint64_t wrong = 0;
    auto output = [&](uint32_t r) { return recv_.bytes(r).data(); };
    switch (kind) {
      case SweepKind::kAllReduce: {
        std::vector<float> want(s.block);
        for (size_t i = 0; i < s.block; ++i) want[i] = exact_reduction(i, n, o_.op, seed);
        for (uint32_t r = 0; r < n; ++r) wrong += count_wrong(output(r), s.block, o_.dtype, [&](size_t i) { return want[i]; });
        break;
      }
      case SweepKind::kAllGather: {
        std::vector<float> want(s.block * n);
        for (size_t i = 0; i < want.size(); ++i) want[i] = exact_value(uint32_t(i / s.block), i % s.block, n, seed);
        for (uint32_t r = 0; r < n; ++r) wrong += count_wrong(output(r), want.size(), o_.dtype, [&](size_t i) { return want[i]; });
        break;
      }
      case SweepKind::kReduceScatter: {
        for (uint32_t r = 0; r < n; ++r) {
          wrong += count_wrong(output(r), s.block, o_.dtype,
                               [&](size_t i) { return exact_reduction(r * s.block + i, n, o_.op, seed); });
        }
        break;
      }
      case SweepKind::kAllToAll: {
        for (uint32_t r = 0; r < n; ++r) {
          wrong += count_wrong(output(r), s.block * n, o_.dtype, [&](size_t i) {
            return exact_value(uint32_t(i / s.block), r * s.block + i % s.block, n, seed);
          });
        }
        break;
      }
      case SweepKind::kBroadcast: {
        for (uint32_t r = 0; r < n; ++r) {
          wrong += count_wrong(output(r), s.block, o_.dtype, [&](size_t i) { return exact_value(0, i, n, seed); });
        }
        break;
      }
      case SweepKind::kSendRecv:
        wrong += count_wrong(output(1), s.block, o_.dtype, [&](size_t i) { return exact_value(0, i, n, seed); });
        break;
    }
    return wrong;
  }

  static bool report_failures(const std::vector<TransferResult>& results) {
    bool ok = true;
    for (size_t r = 0; r < results.size(); ++r) {
      if (!results[r].ok()) {
        std::fprintf(stderr, "rank %zu: %s\n", r, results[r].error().message.c_str());
        ok = false;
      }
    }
    return ok;
  }

  SweepOptions o_;
  CollWorld world_;
  ferry::testing::SymmetricAllocation recv_;  // outputs; rank 1's is send/recv's target
  std::vector<std::vector<uint8_t>> send_;
};

}  // namespace

const std::vector<SweepFlag> kSweepFlags = {
    {"--ranks", "N", "ranks (default 8)"},
    {"--min-bytes", "B", "smallest size in bytes (default 8)"},
    {"--max-bytes", "B",
     "largest size in bytes (default 268435456 = 256 MiB, the nccl-tests range: a few minutes and ~5 GiB of "
     "memory; 67108864 for a quicker run)"},
    {"--provider", "P",
     "emu (default) or sim: sim (ns-3) models the switches, so a receiver several ranks write to congests"},
    {"--mode", "M", "emu's mode: deterministic (default; virtual time, reproducible) or fast (wall time)"},
    {"--topology", "T",
     "sim's topology: single-switch (default; every NIC on one switch) or leaf-spine (--hosts-per-leaf ranks "
     "under each leaf, every leaf linked to every spine)"},
    {"--flow-control", "F",
     "sim's switches: pfc (default; lossless), pfc+dcqcn (with ECN marking and DCQCN at the paper's 40 Gb/s "
     "defaults), dcqcn or none (drop-tail, lossy)"},
    {"--hosts-per-leaf", "N", "leaf-spine: ranks under each leaf (default 2)"},
    {"--spines", "N", "leaf-spine: spine switches (default 2)"},
    {"--oversubscription", "X", "leaf-spine: leaf downlink over uplink capacity, at least 1 (default 1)"},
    {"--collectives", "LIST",
     "comma-separated, from all_reduce, all_gather, reduce_scatter, all_to_all, send_recv, broadcast (default "
     "all_reduce, all_gather, reduce_scatter, all_to_all and send_recv)"},
    {"--algorithm", "A",
     "auto (default), ring, one_shot or two_shot: forced where the collective has it (all-to-all and send/recv "
     "have one way)"},
    {"--dtype", "T", "float (default), half or bfloat16"},
    {"--op", "O", "sum (default) or max"},
    {"--iters", "N", "timed calls per size (default 1 deterministic, 5 fast)"},
    {"--seed", "S", "fabric seed (default 1)"},
    {"--scratch-bytes", "B", "symmetric scratch per rank (default 67108864)"},
    {"--rail-gbps", "G", "rate of each rank's one rail in Gbit/s (default 100)"},
};

VoidResult set_sweep_option(std::string_view flag, std::string_view value, SweepOptions& o) {
  const std::string v(value);
  auto bad = [&](const std::string& why) { return make_error(ErrorCode::kInvalidArgument, std::string(flag) + ": " + why); };
  if (flag == "--ranks") {
    if (!parse_number(value, &o.ranks) || o.ranks == 0 || o.ranks > 1024) return bad("'" + v + "' is not a rank count from 1 to 1024");
  } else if (flag == "--min-bytes") {
    if (!parse_number(value, &o.min_bytes) || o.min_bytes == 0) return bad("'" + v + "' is not a positive byte count");
  } else if (flag == "--max-bytes") {
    if (!parse_number(value, &o.max_bytes) || o.max_bytes == 0) return bad("'" + v + "' is not a positive byte count");
  } else if (flag == "--provider") {
    if (value != fabrics::kEmu && value != fabrics::kSim) return bad("'" + v + "' is not a provider the sweep runs on (emu or sim)");
    o.fabric = v;
  } else if (flag == "--mode") {
    if (value != "fast" && value != "deterministic") return bad("'" + v + "' is not a mode (deterministic or fast)");
    o.fast = value == "fast";
  } else if (flag == "--topology") {
    if (value != "leaf-spine" && value != "single-switch") return bad("'" + v + "' is not a topology (single-switch or leaf-spine)");
    o.leaf_spine = value == "leaf-spine";
  } else if (flag == "--flow-control") {
    if (value != "pfc+dcqcn" && value != "pfc" && value != "dcqcn" && value != "none") {
      return bad("'" + v + "' is not a flow control (pfc+dcqcn, pfc, dcqcn or none)");
    }
    o.flow_control = v;
  } else if (flag == "--hosts-per-leaf" || flag == "--spines") {
    uint32_t n = 0;
    if (!parse_number(value, &n) || n == 0 || n > 65535) return bad("'" + v + "' is not a count from 1 to 65535");
    (flag == "--spines" ? o.leaf_spine_shape.spines : o.leaf_spine_shape.hosts_per_leaf) = n;
    o.leaf_spine_flag = flag;
  } else if (flag == "--oversubscription") {
    double x = 0;
    if (!parse_number(value, &x) || !(x >= 1 && x <= 1024)) return bad("'" + v + "' is not a ratio from 1 to 1024");
    o.leaf_spine_shape.oversubscription = x;
    o.leaf_spine_flag = flag;
  } else if (flag == "--collectives") {
    o.kinds.clear();
    for (size_t start = 0; start <= value.size();) {
      const size_t comma = std::min(value.find(',', start), value.size());
      const std::string_view item = value.substr(start, comma - start);
      auto it = std::find_if(std::begin(kKinds), std::end(kKinds), [&](const auto& k) { return item == k.second; });
      if (it == std::end(kKinds)) return bad("unknown collective '" + std::string(item) + "'");
      o.kinds.push_back(it->first);
      start = comma + 1;
    }
  } else if (flag == "--algorithm") {
    auto a = algorithm_from_string(value);
    if (!a) return bad("'" + v + "' is not an algorithm (auto, ring, one_shot, two_shot)");
    o.algorithm = *a;
  } else if (flag == "--dtype") {
    auto d = dtype_from_string(value);
    if (!d) return bad("'" + v + "' is not a type (float, half, bfloat16)");
    o.dtype = *d;
  } else if (flag == "--op") {
    auto op = reduce_op_from_string(value);
    if (!op) return bad("'" + v + "' is not a reduction (sum, max)");
    o.op = *op;
  } else if (flag == "--iters") {
    if (!parse_number(value, &o.iters) || o.iters == 0) return bad("'" + v + "' is not a positive count");
  } else if (flag == "--seed") {
    if (!parse_number(value, &o.seed)) return bad("'" + v + "' is not a non-negative integer");
  } else if (flag == "--scratch-bytes") {
    if (!parse_number(value, &o.scratch_bytes) || o.scratch_bytes == 0) return bad("'" + v + "' is not a positive byte count");
  } else if (flag == "--rail-gbps") {
    if (!parse_number(value, &o.rail_gbps) || !(o.rail_gbps > 0 && o.rail_gbps <= 1e5)) {
      return bad("'" + v + "' is not a rate in Gbit/s (above 0, at most 100000)");
    }
  } else {
    return make_error(ErrorCode::kInvalidArgument, "unknown option " + std::string(flag));
  }
  return {};
}

VoidResult finish_sweep_options(SweepOptions& o) {
  if (o.min_bytes > o.max_bytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--min-bytes " + std::to_string(o.min_bytes) + " exceeds --max-bytes " + std::to_string(o.max_bytes));
  }
  if (o.fast && o.fabric == fabrics::kSim) {
    return make_error(ErrorCode::kInvalidArgument, "--mode fast: sim runs in virtual time only (fast is emu's real-time mode)");
  }
  if (!o.leaf_spine && !o.leaf_spine_flag.empty()) {
    return make_error(ErrorCode::kInvalidArgument, o.leaf_spine_flag + " needs --topology leaf-spine");
  }
  if (o.leaf_spine && o.fabric != fabrics::kSim) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--topology leaf-spine needs --provider sim (emu joins every NIC directly, with no switches)");
  }
  if (!o.flow_control.empty() && o.fabric != fabrics::kSim) {
    return make_error(ErrorCode::kInvalidArgument, "--flow-control needs --provider sim (emu has no switches)");
  }
  if (o.fabric == fabrics::kSim && o.flow_control.empty()) o.flow_control = "pfc";
  o.provider = o.fast ? fabrics::kEmuFast : o.fabric;
  if (o.iters == 0) o.iters = o.fast ? 5 : 1;
  return {};
}

std::string fabric_description(const SweepOptions& o) {
  if (o.provider == fabrics::kEmuFast) return "emu fast mode (wall time)";
  if (o.provider == fabrics::kEmu) return "emu deterministic mode (virtual time)";
  char text[200];
  if (!o.leaf_spine) {
    std::snprintf(text, sizeof text, "sim, one switch, %s (virtual time)", o.flow_control.c_str());
  } else {
    std::snprintf(text, sizeof text, "sim, leaf-spine of %u ranks a leaf, %u spines, oversubscription %g, %s (virtual time)",
                  o.leaf_spine_shape.hosts_per_leaf, o.leaf_spine_shape.spines, o.leaf_spine_shape.oversubscription,
                  o.flow_control.c_str());
  }
  return text;
}

int run_sweep(const SweepOptions& o) {
  std::printf("# collective sweep: %u ranks on %s, 1 rail of %g Gbit/s, RC, seed %llu, %u iteration%s\n", o.ranks,
              fabric_description(o).c_str(), o.rail_gbps, static_cast<unsigned long long>(o.seed), o.iters,
              o.iters == 1 ? "" : "s");
  std::unique_ptr<Bench> made;
  try {
    made = std::make_unique<Bench>(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "setting up %u ranks: %s\n", o.ranks, e.what());
    return 1;
  }
  Bench& bench = *made;
  if (!bench.warm_up()) return 1;
  uint64_t wrong = 0;
  for (SweepKind kind : o.kinds) wrong += bench.run(kind);
  std::printf("#\n# wrong elements: %llu\n", static_cast<unsigned long long>(wrong));
  return wrong == 0 ? 0 : 1;
}

}  // namespace ferry::coll
