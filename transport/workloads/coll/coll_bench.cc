// The nccl-tests table for the collectives on emu: for every size, the time of one call
// on every rank together, its algorithm bandwidth and bus bandwidth, and the number of
// wrong elements after every output was checked against an exact reference.
//
//   bazel run --config=opt //transport/workloads/coll:coll_bench -- --help
//
// Deterministic mode (the default) reports virtual time, which a seed reproduces; fast
// mode reports the wall time of one thread driving every rank (copies, reductions and
// all). Bus bandwidth is computed as nccl-tests does: all-reduce algbw * 2(n-1)/n;
// all-gather, reduce-scatter and all-to-all algbw * (n-1)/n; send/recv and broadcast
// algbw * 1. Exits 1 if any element is wrong or a call fails, 2 on a bad argument.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transport/workloads/coll/collectives.h"
#include "transport/workloads/coll/testing/coll_world.h"
#include "transport/workloads/coll/testing/exact_inputs.h"

namespace ferry::coll::testing {
namespace {

enum class Kind { kAllReduce, kAllGather, kReduceScatter, kAllToAll, kSendRecv, kBroadcast };

constexpr std::pair<Kind, const char*> kKinds[] = {
    {Kind::kAllReduce, "all_reduce"}, {Kind::kAllGather, "all_gather"}, {Kind::kReduceScatter, "reduce_scatter"},
    {Kind::kAllToAll, "all_to_all"},  {Kind::kSendRecv, "send_recv"},   {Kind::kBroadcast, "broadcast"},
};

const char* name_of(Kind kind) {
  for (const auto& [k, name] : kKinds) {
    if (k == kind) return name;
  }
  return "?";
}

struct Options {
  uint32_t ranks = 8;
  uint64_t min_bytes = 8;
  uint64_t max_bytes = 256ull << 20;  // the nccl-tests range: 8 B to 256 MiB
  emu::Mode mode = emu::Mode::kDeterministic;
  std::vector<Kind> kinds = {Kind::kAllReduce, Kind::kAllGather, Kind::kReduceScatter, Kind::kAllToAll,
                             Kind::kSendRecv};
  Algorithm algorithm = Algorithm::kAuto;
  DType dtype = DType::kFloat32;
  ReduceOp op = ReduceOp::kSum;
  uint32_t iters = 0;  // 0: 1 in deterministic mode (time is exact), 5 in fast mode
  uint64_t seed = 1;
  uint64_t scratch_bytes = kDefaultScratchBytes;
};

constexpr const char* kUsage = R"(usage: coll_bench [options]
  --ranks N             ranks (default 8)
  --min-bytes B         smallest size (default 8)
  --max-bytes B         largest size (default 268435456 = 256 MiB, the nccl-tests
                        range: a few minutes and ~5 GiB; 67108864 for a quicker run)
  --mode M              deterministic (default; virtual time) or fast (wall time)
  --collectives LIST    comma-separated, from all_reduce, all_gather, reduce_scatter,
                        all_to_all, send_recv, broadcast
                        (default all_reduce,all_gather,reduce_scatter,all_to_all,send_recv)
  --algorithm A         auto (default), ring, one_shot or two_shot: forced where the
                        collective has it (all-to-all and send/recv have one way)
  --dtype T             float (default), half or bfloat16
  --op O                sum (default) or max
  --iters N             timed calls per size (default 1 deterministic, 5 fast)
  --seed S              fabric seed (default 1)
  --scratch-bytes B     symmetric scratch per rank (default 67108864)
  --help                this text
Sizes double from min to max. size and count are nccl-tests': the whole message for
all-reduce, broadcast and send/recv; the whole gathered/scattered/exchanged buffer of
one rank for all-gather, reduce-scatter and all-to-all.
)";

template <typename T>
bool parse_number(std::string_view text, T* out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return error == std::errc() && end == text.data() + text.size();
}

// 0: run; 1: --help printed; 2: bad argument (message printed).
int parse(int argc, char** argv, Options* o) {
  auto bad = [](const std::string& what) {
    std::fprintf(stderr, "coll_bench: %s (try --help)\n", what.c_str());
    return 2;
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 1;
    }
    std::string_view value;
    if (const size_t eq = flag.find('='); eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return bad("missing value for " + std::string(flag));
    }
    const std::string v(value);
    if (flag == "--ranks") {
      if (!parse_number(value, &o->ranks) || o->ranks == 0 || o->ranks > 1024) return bad("bad --ranks " + v);
    } else if (flag == "--min-bytes") {
      if (!parse_number(value, &o->min_bytes) || o->min_bytes == 0) return bad("bad --min-bytes " + v);
    } else if (flag == "--max-bytes") {
      if (!parse_number(value, &o->max_bytes) || o->max_bytes == 0) return bad("bad --max-bytes " + v);
    } else if (flag == "--mode") {
      if (value == "fast") {
        o->mode = emu::Mode::kFast;
      } else if (value == "deterministic") {
        o->mode = emu::Mode::kDeterministic;
      } else {
        return bad("bad --mode " + v);
      }
    } else if (flag == "--collectives") {
      o->kinds.clear();
      for (size_t start = 0; start <= value.size();) {
        const size_t comma = std::min(value.find(',', start), value.size());
        const std::string_view item = value.substr(start, comma - start);
        auto it = std::find_if(std::begin(kKinds), std::end(kKinds), [&](const auto& k) { return item == k.second; });
        if (it == std::end(kKinds)) return bad("unknown collective '" + std::string(item) + "'");
        o->kinds.push_back(it->first);
        start = comma + 1;
      }
    } else if (flag == "--algorithm") {
      auto a = algorithm_from_string(value);
      if (!a) return bad("bad --algorithm " + v);
      o->algorithm = *a;
    } else if (flag == "--dtype") {
      auto d = dtype_from_string(value);
      if (!d) return bad("bad --dtype " + v);
      o->dtype = *d;
    } else if (flag == "--op") {
      auto op = reduce_op_from_string(value);
      if (!op) return bad("bad --op " + v);
      o->op = *op;
    } else if (flag == "--iters") {
      if (!parse_number(value, &o->iters) || o->iters == 0) return bad("bad --iters " + v);
    } else if (flag == "--seed") {
      if (!parse_number(value, &o->seed)) return bad("bad --seed " + v);
    } else if (flag == "--scratch-bytes") {
      if (!parse_number(value, &o->scratch_bytes) || o->scratch_bytes == 0) return bad("bad --scratch-bytes " + v);
    } else {
      return bad("unknown flag " + std::string(flag));
    }
  }
  if (o->min_bytes > o->max_bytes) return bad("--min-bytes exceeds --max-bytes");
  if (o->iters == 0) o->iters = o->mode == emu::Mode::kDeterministic ? 1 : 5;
  return 0;
}

WorldOptions world_options(const Options& o) {
  WorldOptions w;
  w.mode = o.mode;
  w.ranks = o.ranks;
  w.seed = o.seed;
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
  explicit Bench(const Options& o)
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
  uint64_t run(Kind kind) {
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
        if (kind == Kind::kAllReduce || kind == Kind::kBroadcast) fill(kind, shape);  // in place
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
                  reduces(kind) ? to_string(o_.op) : "none", kind == Kind::kBroadcast ? 0 : -1, us, algbw,
                  algbw * bus_factor(kind), static_cast<unsigned long long>(wrong));
      std::fflush(stdout);
    }
    return total_wrong;
  }

 private:
  static bool reduces(Kind kind) { return kind == Kind::kAllReduce || kind == Kind::kReduceScatter; }

  const char* algorithm_of(Kind kind) const {
    if (kind == Kind::kSendRecv) return "write with notification";
    if (kind == Kind::kAllToAll) return "one_shot";
    return to_string(o_.algorithm);
  }

  // nccl-tests' bus bandwidth factors.
  double bus_factor(Kind kind) const {
    const double n = o_.ranks;
    switch (kind) {
      case Kind::kAllReduce: return 2 * (n - 1) / n;
      case Kind::kAllGather:
      case Kind::kReduceScatter:
      case Kind::kAllToAll: return (n - 1) / n;
      default: return 1;
    }
  }

  Shape shape_of(Kind kind, uint64_t size, size_t esize) const {
    const size_t elements = size / esize;
    if (kind == Kind::kAllReduce || kind == Kind::kSendRecv || kind == Kind::kBroadcast) {
      if (kind == Kind::kSendRecv && o_.ranks < 2) return {};
      return Shape{elements, elements * esize, elements};
    }
    const size_t block = elements / o_.ranks;
    return Shape{block, block * o_.ranks * esize, block * o_.ranks};
  }

  // Inputs: rank r's element at global index i is exact_value(r, i).
  void fill(Kind kind, const Shape& s) {
    const uint32_t n = o_.ranks;
    for (uint32_t r = 0; r < n; ++r) {
      switch (kind) {
        case Kind::kAllReduce:
        case Kind::kBroadcast: fill_exact(recv_.bytes(r).data(), s.block, o_.dtype, r, n, o_.seed); break;
        case Kind::kAllGather: fill_exact(send_[r].data(), s.block, o_.dtype, r, n, o_.seed); break;
        case Kind::kSendRecv:
          if (r == 0) fill_exact(send_[r].data(), s.block, o_.dtype, r, n, o_.seed);
          break;
        default: fill_exact(send_[r].data(), s.block * n, o_.dtype, r, n, o_.seed); break;
      }
    }
  }

  Task<TransferResult> call(Kind kind, uint32_t rank, size_t block) {
    Communicator& comm = world_.comm(rank);
    void* recv = recv_.bytes(rank).data();
    const void* send = send_[rank].data();
    switch (kind) {
      case Kind::kAllReduce: return all_reduce(comm, recv, block, o_.dtype, o_.op, o_.algorithm);
      case Kind::kAllGather: return all_gather(comm, send, recv, block, o_.dtype, forced(Collective::kAllGather));
      case Kind::kReduceScatter:
        return reduce_scatter(comm, send, recv, block, o_.dtype, o_.op, forced(Collective::kReduceScatter));
      case Kind::kAllToAll: return all_to_all(comm, send, recv, block, o_.dtype);
      case Kind::kBroadcast: return broadcast(comm, recv, block, o_.dtype, 0, forced(Collective::kBroadcast));
      case Kind::kSendRecv: break;
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
  uint64_t check(Kind kind, const Shape& s) {
    const uint32_t n = o_.ranks;
    const uint64_t seed = o_.seed;
    uint64_t wrong = 0;
    auto output = [&](uint32_t r) { return recv_.bytes(r).data(); };
    switch (kind) {
      case Kind::kAllReduce: {
        std::vector<float> want(s.block);
        for (size_t i = 0; i < s.block; ++i) want[i] = exact_reduction(i, n, o_.op, seed);
        for (uint32_t r = 0; r < n; ++r) wrong += count_wrong(output(r), s.block, o_.dtype, [&](size_t i) { return want[i]; });
        break;
      }
      case Kind::kAllGather: {
        std::vector<float> want(s.block * n);
        for (size_t i = 0; i < want.size(); ++i) want[i] = exact_value(uint32_t(i / s.block), i % s.block, n, seed);
        for (uint32_t r = 0; r < n; ++r) wrong += count_wrong(output(r), want.size(), o_.dtype, [&](size_t i) { return want[i]; });
        break;
      }
      case Kind::kReduceScatter: {
        for (uint32_t r = 0; r < n; ++r) {
          wrong += count_wrong(output(r), s.block, o_.dtype,
                               [&](size_t i) { return exact_reduction(r * s.block + i, n, o_.op, seed); });
        }
        break;
      }
      case Kind::kAllToAll: {
        for (uint32_t r = 0; r < n; ++r) {
          wrong += count_wrong(output(r), s.block * n, o_.dtype, [&](size_t i) {
            return exact_value(uint32_t(i / s.block), r * s.block + i % s.block, n, seed);
          });
        }
        break;
      }
      case Kind::kBroadcast: {
        for (uint32_t r = 0; r < n; ++r) {
          wrong += count_wrong(output(r), s.block, o_.dtype, [&](size_t i) { return exact_value(0, i, n, seed); });
        }
        break;
      }
      case Kind::kSendRecv:
        wrong += count_wrong(output(1), s.block, o_.dtype, [&](size_t i) { return exact_value(0, i, n, seed); });
        break;
    }
    return wrong;
  }

  static bool report_failures(const std::vector<TransferResult>& results) {
    bool ok = true;
    for (size_t r = 0; r < results.size(); ++r) {
      if (!results[r].ok) {
        std::fprintf(stderr, "coll_bench: rank %zu: %s\n", r, results[r].message.c_str());
        ok = false;
      }
    }
    return ok;
  }

  Options o_;
  CollWorld world_;
  ferry::testing::SymmetricAllocation recv_;  // outputs; rank 1's is send/recv's target
  std::vector<std::vector<uint8_t>> send_;
};

int main_with(const Options& o) {
  std::printf("# coll_bench: %u ranks on emu %s mode (%s), 1 rail of 100 Gbit/s, RC, seed %llu, %u iteration%s\n",
              o.ranks, o.mode == emu::Mode::kFast ? "fast" : "deterministic",
              o.mode == emu::Mode::kFast ? "wall time" : "virtual time", static_cast<unsigned long long>(o.seed),
              o.iters, o.iters == 1 ? "" : "s");
  Bench bench(o);
  if (!bench.warm_up()) return 1;
  uint64_t wrong = 0;
  for (Kind kind : o.kinds) wrong += bench.run(kind);
  std::printf("#\n# wrong elements: %llu\n", static_cast<unsigned long long>(wrong));
  return wrong == 0 ? 0 : 1;
}

}  // namespace
}  // namespace ferry::coll::testing

int main(int argc, char** argv) {
  ferry::coll::testing::Options options;
  const int parsed = ferry::coll::testing::parse(argc, argv, &options);
  if (parsed == 1) return 0;
  if (parsed == 2) return 2;
  return ferry::coll::testing::main_with(options);
}
