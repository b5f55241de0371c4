// ferry demo: moves data between two emulated nodes and verifies every byte.
//
// The main job until the scenario replay CLI exists: it opens both nodes of an `emu`
// fabric, registers buffers, connects an RC and an SRD endpoint pair, then writes,
// writes with immediates, reads and sends, checks the data and prints what it did.
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "emu/fabric.h"

namespace {

using namespace ferry;

constexpr const char* kUsage = R"(usage: demo [--mode fast|deterministic] [--seed N] [--bytes N]

Moves data between two nodes of the in-process emulator and verifies every byte.

  --mode MODE   fast: real threads and time (default); deterministic: one thread,
                virtual time, seeded delivery order (prints the trace hash)
  --seed N      seed of the deterministic mode (default 1)
  --bytes N     size of each transfer in bytes, 1..1073741824 (default 16777216)
  --help        this text

Exit status: 0 when every transfer completed and verified, 1 when one did not,
2 on bad arguments.
)";

struct Options {
  emu::Mode mode = emu::Mode::kFast;
  uint64_t seed = 1;
  uint64_t bytes = 16u << 20;
};

bool parse_u64(const char* text, uint64_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-') return false;
  *out = v;
  return true;
}

int parse(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "demo: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg == "--mode") {
      const char* v = value("--mode");
      if (v == nullptr) return 2;
      if (std::string(v) == "fast") {
        options->mode = emu::Mode::kFast;
      } else if (std::string(v) == "deterministic" || std::string(v) == "det") {
        options->mode = emu::Mode::kDeterministic;
      } else {
        std::fprintf(stderr, "demo: --mode must be fast or deterministic, not '%s'\n", v);
        return 2;
      }
    } else if (arg == "--seed") {
      const char* v = value("--seed");
      if (v == nullptr || !parse_u64(v, &options->seed)) {
        std::fprintf(stderr, "demo: --seed needs a non-negative integer\n");
        return 2;
      }
    } else if (arg == "--bytes") {
      const char* v = value("--bytes");
      if (v == nullptr || !parse_u64(v, &options->bytes) || options->bytes == 0 ||
          options->bytes > (1u << 30)) {
        std::fprintf(stderr, "demo: --bytes needs an integer in [1, 1073741824]\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "demo: unknown argument '%s' (see --help)\n", arg.c_str());
      return 2;
    }
  }
  return -1;
}

// Byte i of the buffer of `node` in transfer `round`: encodes all three.
uint8_t pattern(uint32_t node, uint32_t round, uint64_t i) {
  return static_cast<uint8_t>((i * 131 + (i >> 8) * 7 + node * 29 + round * 53) & 0xff);
}

void fill(std::vector<uint8_t>& buffer, uint32_t node, uint32_t round) {
  for (uint64_t i = 0; i < buffer.size(); ++i) buffer[i] = pattern(node, round, i);
}

// Index of the first wrong byte, or -1.
int64_t first_mismatch(const std::vector<uint8_t>& buffer, uint32_t node, uint32_t round) {
  for (uint64_t i = 0; i < buffer.size(); ++i) {
    if (buffer[i] != pattern(node, round, i)) return static_cast<int64_t>(i);
  }
  return -1;
}

struct Side {
  std::unique_ptr<ProtectionDomain> pd;
  std::unique_ptr<CompletionQueue> cq;
  std::vector<uint8_t> buffer;
  std::unique_ptr<MemoryRegion> region;
  std::unique_ptr<Endpoint> rc;
  std::unique_ptr<Endpoint> srd;
};

template <typename T>
T take(Result<T> result, const char* what) {
  if (!result.ok()) {
    std::fprintf(stderr, "demo: %s failed: %s\n", what, result.error().to_string().c_str());
    std::exit(1);
  }
  return std::move(result).value();
}

void check(VoidResult result, const char* what) {
  if (!result.ok()) {
    std::fprintf(stderr, "demo: %s failed: %s\n", what, result.error().to_string().c_str());
    std::exit(1);
  }
}

// Polls `cq` (driving the fabric) until `count` completions arrived; all must succeed.
std::vector<Completion> await(emu::Fabric& fabric, CompletionQueue& cq, size_t count) {
  std::vector<Completion> got;
  Completion batch[16];
  for (uint64_t spins = 0; got.size() < count; ++spins) {
    auto n = take(cq.poll(batch), "poll");
    got.insert(got.end(), batch, batch + n);
    if (n == 0 && !fabric.step() && fabric.config().mode == emu::Mode::kDeterministic) {
      std::fprintf(stderr, "demo: fabric went idle with %zu of %zu completions\n", got.size(), count);
      std::exit(1);
    }
    if (spins > 100'000'000) {
      std::fprintf(stderr, "demo: gave up waiting for completions\n");
      std::exit(1);
    }
  }
  for (const Completion& c : got) {
    if (c.status != Status::kSuccess) {
      std::fprintf(stderr, "demo: completion %" PRIu64 " failed: %s\n", c.cookie, to_string(c.status));
      std::exit(1);
    }
  }
  return got;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (const int rc = parse(argc, argv, &options); rc >= 0) return rc;

  emu::FabricConfig config;
  config.mode = options.mode;
  config.seed = options.seed;
  config.nodes = 2;
  emu::Fabric fabric(config);

  Side side[2];
  for (uint32_t n = 0; n < 2; ++n) {
    Device& device = fabric.node(n).device(0);
    side[n].pd = take(device.create_protection_domain(), "create_protection_domain");
    side[n].cq = take(device.create_completion_queue(256), "create_completion_queue");
    side[n].buffer.resize(options.bytes);
    side[n].region = take(side[n].pd->register_memory(side[n].buffer.data(), options.bytes,
                                                      kAccessLocalWrite | kAccessRemoteWrite |
                                                          kAccessRemoteRead,
                                                      MemoryKind::kHost),
                          "register_memory");
    EndpointConfig ec;
    ec.send_cq = ec.recv_cq = side[n].cq.get();
    side[n].rc = take(side[n].pd->create_endpoint(ec), "create_endpoint(RC)");
    ec.kind = EndpointKind::kSrd;
    side[n].srd = take(side[n].pd->create_endpoint(ec), "create_endpoint(SRD)");
  }
  for (uint32_t n = 0; n < 2; ++n) {
    check(side[n].rc->connect(side[1 - n].rc->address()), "connect(RC)");
    check(side[n].srd->connect(side[1 - n].srd->address()), "connect(SRD)");
  }
  std::printf("emu fabric: 2 nodes, %s mode%s, %s\n",
              options.mode == emu::Mode::kFast ? "fast" : "deterministic",
              options.mode == emu::Mode::kFast ? "" : (" seed " + std::to_string(options.seed)).c_str(),
              fabric.node(0).device(0).attributes().name.c_str());

  const uint64_t bytes = options.bytes;
  const auto sge = [&](uint32_t n) {
    return Sge{reinterpret_cast<uint64_t>(side[n].buffer.data()), static_cast<uint32_t>(bytes),
               side[n].region->lkey()};
  };
  int failures = 0;
  const auto report = [&](const char* what, uint32_t dst, uint32_t src_node, uint32_t round,
                          uint64_t t0_ns) {
    const double us = static_cast<double>(fabric.now_ns() - t0_ns) / 1000.0;
    const int64_t bad = first_mismatch(side[dst].buffer, src_node, round);
    std::printf("  %-34s %10" PRIu64 " bytes  %10.1f us %s  %s\n", what, bytes, us,
                options.mode == emu::Mode::kFast ? "wall" : "virtual",
                bad < 0 ? "verified" : "MISMATCH");
    if (bad >= 0) {
      std::printf("    first wrong byte at offset %" PRId64 "\n", bad);
      ++failures;
    }
  };

  // 1. RC write node 0 -> node 1.
  fill(side[0].buffer, 0, 1);
  Sge s0 = sge(0);
  uint64_t t0 = fabric.now_ns();
  WorkRequest write{1, Opcode::kWrite, &s0, 1, reinterpret_cast<uint64_t>(side[1].buffer.data()),
                    side[1].region->rkey()};
  check(side[0].rc->post_send({&write, 1}), "post_send(write)");
  await(fabric, *side[0].cq, 1);
  report("RC write      node0 -> node1", 1, 0, 1, t0);

  // 2. SRD write-with-immediate node 1 -> node 0: the target learns from the immediate.
  fill(side[1].buffer, 1, 2);
  RecvRequest recv{7, nullptr, 0};
  check(side[0].srd->post_recv({&recv, 1}), "post_recv");
  Sge s1 = sge(1);
  t0 = fabric.now_ns();
  WorkRequest write_imm{2, Opcode::kWriteWithImm, &s1, 1,
                        reinterpret_cast<uint64_t>(side[0].buffer.data()), side[0].region->rkey(),
                        0xfe77};
  check(side[1].srd->post_send({&write_imm, 1}), "post_send(write-with-imm)");
  await(fabric, *side[1].cq, 1);
  const auto arrived = await(fabric, *side[0].cq, 1);
  if (!arrived[0].has_imm || arrived[0].imm != 0xfe77) {
    std::printf("  immediate missing or wrong at the target\n");
    ++failures;
  }
  report("SRD write+imm node1 -> node0", 0, 1, 2, t0);

  // 3. RC read: node 1 reads node 0's buffer back.
  fill(side[0].buffer, 0, 3);
  std::memset(side[1].buffer.data(), 0, bytes);
  s1 = sge(1);
  t0 = fabric.now_ns();
  WorkRequest read{3, Opcode::kRead, &s1, 1, reinterpret_cast<uint64_t>(side[0].buffer.data()),
                   side[0].region->rkey()};
  check(side[1].rc->post_send({&read, 1}), "post_send(read)");
  await(fabric, *side[1].cq, 1);
  report("RC read       node1 <- node0", 1, 0, 3, t0);

  // 4. RC send/recv node 0 -> node 1 (a control message: at most 64 KiB).
  const uint32_t message = static_cast<uint32_t>(std::min<uint64_t>(bytes, 65536));
  fill(side[0].buffer, 0, 4);
  Sge into{reinterpret_cast<uint64_t>(side[1].buffer.data()), message, side[1].region->lkey()};
  RecvRequest recv_message{8, &into, 1};
  check(side[1].rc->post_recv({&recv_message, 1}), "post_recv");
  Sge from{reinterpret_cast<uint64_t>(side[0].buffer.data()), message, side[0].region->lkey()};
  t0 = fabric.now_ns();
  WorkRequest send{4, Opcode::kSend, &from, 1};
  check(side[0].rc->post_send({&send, 1}), "post_send(send)");
  await(fabric, *side[0].cq, 1);
  const auto got = await(fabric, *side[1].cq, 1);
  const bool send_ok = got[0].byte_len == message &&
                       std::memcmp(side[1].buffer.data(), side[0].buffer.data(), message) == 0;
  std::printf("  %-34s %10u bytes  %s\n", "RC send/recv  node0 -> node1", message,
              send_ok ? "verified" : "MISMATCH");
  if (!send_ok) ++failures;

  if (options.mode == emu::Mode::kDeterministic) {
    std::printf("trace hash %016" PRIx64 " (same seed, same hash)\n", fabric.trace_hash());
  }
  std::printf("%s\n", failures == 0 ? "all transfers verified" : "FAILED");
  return failures == 0 ? 0 : 1;
}
