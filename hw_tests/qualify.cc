#include "hw_tests/qualify.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "hw_tests/lane.h"
#include "transport/conformance/checks.h"
#include "transport/engine/engine.h"
#include "transport/engine/exchange.h"

namespace ferry::qualify {
namespace {

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Two connected endpoints on rail `rail` of each provider.
struct Lane {
  Side side[2];
  std::string error;  // why the lane could not be opened
};

std::unique_ptr<Lane> open_lane(Provider& a, Provider& b, size_t rail, EndpointKind kind, size_t bytes,
                                const EndpointConfig& tweaks) {
  auto lane = std::make_unique<Lane>();
  Provider* providers[2] = {&a, &b};
  for (int s = 0; s < 2; ++s) {
    lane->error = open_side(*providers[s], rail, kind, bytes, tweaks, &lane->side[s]);
    if (!lane->error.empty()) return lane;
  }
  for (int s = 0; s < 2; ++s) {
    auto connected = lane->side[s].endpoint->connect(lane->side[1 - s].endpoint->address());
    if (!connected.ok()) return lane->error = connected.error().to_string(), std::move(lane);
  }
  return lane;
}

class Suite {
 public:
  Suite(Provider& a, Provider& b, const Options& options)
      : a_(a), b_(b), options_(options), driver_(a, b, options.timeout_ns) {}

  Report run() {
    report_.provider = a_.name();
    const size_t rails = std::min(a_.device_count(), b_.device_count());
    for (size_t r = 0; r < rails; ++r) report_.devices.push_back(a_.device(r).attributes().name);
    for (size_t r = 0; r < rails; ++r) {
      for (EndpointKind kind : {EndpointKind::kRc, EndpointKind::kSrd}) {
        if (!supports(r, kind)) continue;
        const std::string prefix = "rail" + std::to_string(r) + "/" + to_string(kind) + "/";
        if (options_.functional) functional(r, kind, prefix);
        if (options_.robustness) robustness(r, kind, prefix);
        if (options_.performance && r == 0) performance(r, kind, prefix);
      }
    }
    if (options_.functional) engine_checks(rails);
    if (options_.robustness) {
      report_.add_not_run("robustness", "peer-process-killed",
                  "needs two processes: run the suite with --role server and --role client "
                  "(docs/qualification.md)");
    }
    return report_;
  }

 private:
  bool supports(size_t rail, EndpointKind kind) {
    const auto& x = a_.device(rail).attributes();
    const auto& y = b_.device(rail).attributes();
    return kind == EndpointKind::kRc ? x.ordered && y.ordered : x.unordered && y.unordered;
  }

  // Runs `body` on a fresh lane; the lane's open error fails the check.
  template <typename Body>
  void on_lane(size_t rail, EndpointKind kind, const std::string& group, const std::string& name, Body body,
               EndpointConfig tweaks = {}, size_t bytes = 1 << 16) {
    auto lane = open_lane(a_, b_, rail, kind, bytes, tweaks);
    if (!lane->error.empty()) {
      report_.add(group, name, "cannot open a lane: " + lane->error);
      return;
    }
    report_.add(group, name, body(*lane));
  }

  // Posts one request on side 0 and collects its completion.
  std::string post_one(Lane& lane, const WorkRequest& wr, Completion* out) {
    if (auto posted = lane.side[0].endpoint->post_send({&wr, 1}); !posted.ok()) return "post: " + posted.error().to_string();
    std::vector<Completion> got;
    if (auto why = driver_.collect(*lane.side[0].cq, 1, &got); !why.empty()) return why;
    *out = got[0];
    return "";
  }

  // The provider conformance suite (transport/conformance/checks.h), every check on
  // this rail and kind. Only providers here, no cluster: checks that need a fault skip,
  // saying so.
  void functional(size_t rail, EndpointKind kind, const std::string& prefix) {
    conformance::Nodes nodes;
    nodes.a = &a_;
    nodes.b = &b_;
    nodes.rail = rail;
    nodes.kind = kind;
    nodes.timeout_ns = options_.timeout_ns;
    for (const conformance::Check& check : conformance::all_checks()) {
      if (options_.progress) std::fprintf(stderr, "qualify: running functional/%s%s\n", prefix.c_str(), check.name.c_str());
      const conformance::Outcome outcome = conformance::run(check, nodes);
      if (outcome.verdict == conformance::Verdict::kSkip) {
        report_.add_not_run("functional", prefix + check.name, outcome.detail);
      } else {
        report_.add("functional", prefix + check.name,
                    outcome.verdict == conformance::Verdict::kPass ? "" : outcome.detail);
      }
    }
  }

  void robustness(size_t rail, EndpointKind kind, const std::string& prefix) {
    on_lane(rail, kind, "robustness", prefix + "error-then-fresh-endpoint", [&](Lane& l) {
      l.side[0].endpoint->set_error();
      Sge sge = l.side[0].sge(0, 64);
      WorkRequest wr{1, Opcode::kWrite, &sge, 1, l.side[1].addr(0), l.side[1].region->rkey()};
      Completion c;
      if (auto why = post_one(l, wr, &c); !why.empty()) return why;
      if (auto why = expect_status(c, Status::kFlushed, "write on an endpoint in error"); !why.empty()) return why;
      // A new pair on the same domains and queues works.
      auto fresh = open_lane(a_, b_, rail, kind, 4096, {});
      if (!fresh->error.empty()) return "reopening: " + fresh->error;
      fresh->side[0].fill(8);
      Sge s2 = fresh->side[0].sge(0, 4096);
      WorkRequest w2{2, Opcode::kWrite, &s2, 1, fresh->side[1].addr(0), fresh->side[1].region->rkey()};
      if (auto why = post_one(*fresh, w2, &c); !why.empty()) return why;
      if (auto why = expect_status(c, Status::kSuccess, "write on the fresh endpoint"); !why.empty()) return why;
      return compare(fresh->side[1], 0, fresh->side[0], 0, 4096);
    });
  }

  // Bandwidth of `op` at `bytes` per message, in Gb/s on the providers' clock; negative
  // with *why set on failure. Posted as bandwidth_window() says (lane.h).
  double bandwidth(Lane& l, Opcode op, uint64_t bytes, std::string* why) {
    const auto [window, per_post] = bandwidth_window(bytes);
    const uint64_t total = std::max<uint64_t>(bytes * 32, options_.bw_total_bytes);
    const int batches = static_cast<int>(std::max<uint64_t>(total / bytes / per_post, window / per_post));
    const int count = batches * per_post;
    Sge sge = l.side[0].sge(0, static_cast<uint32_t>(bytes));
    std::vector<WorkRequest> batch(per_post, WorkRequest{0, op, &sge, 1, l.side[1].addr(0), l.side[1].region->rkey()});
    for (int i = 0; i < per_post; ++i) batch[i].signaled = i + 1 == per_post;
    Sge into = l.side[1].sge(0, static_cast<uint32_t>(bytes));
    std::vector<RecvRequest> recvs(per_post, RecvRequest{0, &into, 1});
    const uint64_t t0 = driver_.now();
    int posted = 0, done = 0, received = 0;
    std::vector<Completion> got;
    Completion drained[16];
    auto drain_receiver = [&]() -> std::string {
      for (;;) {
        auto n = l.side[1].cq->poll(drained);
        if (!n.ok()) return n.error().to_string();
        if (*n == 0) return "";
        for (size_t i = 0; i < *n; ++i) {
          if (drained[i].status != Status::kSuccess) return std::string("recv: ") + to_string(drained[i].status);
        }
        received += static_cast<int>(*n);
      }
    };
    while (done < count) {
      while (posted < count && posted - done + per_post <= window) {
        if (op == Opcode::kSend) {
          if (auto r = l.side[1].endpoint->post_recv(recvs); !r.ok()) return *why = r.error().to_string(), -1;
        }
        if (auto r = l.side[0].endpoint->post_send(batch); !r.ok()) return *why = r.error().to_string(), -1;
        posted += per_post;
      }
      if (auto w = driver_.collect(*l.side[0].cq, 1, &got); !w.empty()) return *why = w, -1;
      if (got[0].status != Status::kSuccess) return *why = to_string(got[0].status), -1;
      done += per_post;
      if (op == Opcode::kSend) {  // keep the receiver's queue drained as it goes
        if (auto w = drain_receiver(); !w.empty()) return *why = w, -1;
      }
    }
    if (op == Opcode::kSend && received < count) {
      if (auto w = driver_.collect(*l.side[1].cq, static_cast<size_t>(count - received), &got); !w.empty()) {
        return *why = w, -1;
      }
    }
    const double seconds = static_cast<double>(driver_.now() - t0) * 1e-9;
    return seconds > 0 ? static_cast<double>(bytes) * count * 8 / seconds / 1e9 : 0;
  }

  // Half a round trip of an 8-byte RDMA write seen by polling memory, as perftest's
  // ib_write_lat measures it: each side writes into the other's buffer and spins on the
  // last byte of its own buffer changing; no completion is waited for except every
  // kSignalEvery writes, to free the send queue. The median over the rounds, in µs.
  double polled_write_latency(Lane& l, std::string* why) {
    constexpr int kRounds = 1000;
    constexpr int kSignalEvery = 64;
    constexpr uint64_t kLand = 120;  // the 8 bytes land at [120, 128); byte 127 is watched
    Side* sides[2] = {&l.side[0], &l.side[1]};
    for (Side* s : sides) std::fill(s->buffer.begin(), s->buffer.begin() + 128, 0);
    RoundTimer timer(driver_, kRounds);
    std::vector<Completion> got;
    uint64_t deadline = 0;
    for (int i = 1; i <= kRounds; ++i) {
      const uint8_t mark = static_cast<uint8_t>(i % 255 + 1);
      const bool signaled = i % kSignalEvery == 0;
      // The clock for the deadline once per kSignalEvery rounds, not in every round.
      if (i % kSignalEvery == 1) deadline = driver_.now() + options_.timeout_ns;
      timer.stamp();
      for (int from = 0; from < 2; ++from) {
        Side& src = *sides[from];
        Side& dst = *sides[1 - from];
        src.buffer[7] = mark;
        Sge sge = src.sge(0, 8);
        WorkRequest wr{static_cast<uint64_t>(i), Opcode::kWrite, &sge, 1, dst.addr(kLand), dst.region->rkey()};
        wr.signaled = signaled;
        if (auto r = src.endpoint->post_send({&wr, 1}); !r.ok()) return *why = r.error().to_string(), -1;
        if (auto w = driver_.spin_until(dst.buffer.data() + kLand + 7, mark, deadline); !w.empty()) {
          return *why = "round " + std::to_string(i) + ": " + w, -1;
        }
      }
      if (signaled) {
        for (Side* s : sides) {
          if (auto w = driver_.collect(*s->cq, 1, &got); !w.empty()) return *why = w, -1;
          if (got[0].status != Status::kSuccess) return *why = to_string(got[0].status), -1;
        }
      }
    }
    timer.stamp();
    return timer.median_ns() / 1000.0 / 2;
  }

  // Half of a ping-pong's round trip of an 8-byte `op`, in µs.
  double latency(Lane& l, Opcode op, std::string* why) {
    const int rounds = 200;
    Sge ping = l.side[0].sge(0, 8), pong = l.side[1].sge(0, 8);
    Sge land0 = l.side[0].sge(64, 8), land1 = l.side[1].sge(64, 8);
    RecvRequest recv0{0, &land0, 1}, recv1{0, &land1, 1};
    std::vector<Completion> got;
    const uint64_t t0 = driver_.now();
    for (int i = 0; i < rounds; ++i) {
      if (op == Opcode::kRead) {
        WorkRequest rd{0, Opcode::kRead, &ping, 1, l.side[1].addr(0), l.side[1].region->rkey()};
        if (auto r = l.side[0].endpoint->post_send({&rd, 1}); !r.ok()) return *why = r.error().to_string(), -1;
        if (auto w = driver_.collect(*l.side[0].cq, 1, &got); !w.empty()) return *why = w, -1;
        continue;  // a read is a round trip by itself
      }
      // Side 0 -> side 1, seen at side 1; then side 1 -> side 0, seen at side 0.
      const Opcode kind = op == Opcode::kSend ? Opcode::kSend : Opcode::kWriteWithImm;
      if (auto r = l.side[1].endpoint->post_recv({&recv1, 1}); !r.ok()) return *why = r.error().to_string(), -1;
      if (auto r = l.side[0].endpoint->post_recv({&recv0, 1}); !r.ok()) return *why = r.error().to_string(), -1;
      WorkRequest there{0, kind, &ping, 1, l.side[1].addr(64), l.side[1].region->rkey(), 1};
      there.signaled = false;
      if (auto r = l.side[0].endpoint->post_send({&there, 1}); !r.ok()) return *why = r.error().to_string(), -1;
      if (auto w = driver_.collect(*l.side[1].cq, 1, &got); !w.empty()) return *why = w, -1;
      WorkRequest back{0, kind, &pong, 1, l.side[0].addr(64), l.side[0].region->rkey(), 2};
      back.signaled = false;
      if (auto r = l.side[1].endpoint->post_send({&back, 1}); !r.ok()) return *why = r.error().to_string(), -1;
      if (auto w = driver_.collect(*l.side[0].cq, 1, &got); !w.empty()) return *why = w, -1;
    }
    return static_cast<double>(driver_.now() - t0) / 1000.0 / rounds / 2;
  }

  void performance(size_t rail, EndpointKind kind, const std::string& prefix) {
    const Thresholds& t = options_.thresholds;
    const double line = a_.device(rail).attributes().link_gbps;
    struct Op {
      Opcode op;
      const char* name;
      double fraction;
      double lat_max;
    };
    const bool read = a_.device(rail).attributes().supports_rdma_read;
    for (const Op& o : {Op{Opcode::kWrite, "write", t.write_bw_min_fraction, t.write_lat_max_us},
                        Op{Opcode::kRead, "read", t.read_bw_min_fraction, t.read_lat_max_us},
                        Op{Opcode::kSend, "send", t.send_bw_min_fraction, t.send_lat_max_us}}) {
      const bool wanted = o.op == Opcode::kWrite  ? options_.perf_write
                          : o.op == Opcode::kRead ? options_.perf_read
                                                  : options_.perf_send;
      if (!wanted) continue;
      if (o.op == Opcode::kRead && !read) {
        report_.add_not_run("performance", prefix + "read", "the device does not support RDMA read");
        continue;
      }
      EndpointConfig patient;
      patient.rnr_retry = 7;
      auto lane = open_lane(a_, b_, rail, kind, options_.max_bytes, patient);
      if (!lane->error.empty()) {
        report_.add("performance", prefix + o.name, "cannot open a lane: " + lane->error);
        continue;
      }
      for (uint64_t bytes = options_.min_bytes; bytes <= options_.max_bytes; bytes *= 4) {
        std::string why;
        const double gbps = bandwidth(*lane, o.op, bytes, &why);
        const std::string name = prefix + o.name + "-bw/" + std::to_string(bytes);
        if (gbps < 0) {
          report_.add("performance", name, why);
          continue;
        }
        const bool held = bytes >= t.bw_large_bytes;
        report_.add_measure(name, gbps, "Gb/s", held ? o.fraction * line : 0, true,
                    (held ? "held to " : "reported only; line rate ") + short_number(line) + " Gb/s" +
                        (held ? " x " + short_number(o.fraction) : ""));
      }
      std::string why;
      const double us = latency(*lane, o.op, &why);
      if (us < 0) {
        report_.add("performance", prefix + o.name + "-lat/8", why);
      } else {
        report_.add_measure(prefix + o.name + "-lat/8", us, "us", o.lat_max, false,
                    o.op == Opcode::kRead ? "round trip of an 8-byte read"
                                          : "half round trip of 8 bytes, completion queues polled");
      }
      if (o.op == Opcode::kWrite) {
        const double polled = polled_write_latency(*lane, &why);
        if (polled < 0) {
          report_.add("performance", prefix + "write-lat-poll/8", why);
        } else {
          report_.add_measure(prefix + "write-lat-poll/8", polled, "us", o.lat_max, false,
                      "half round trip of 8 bytes, memory polled (as ib_write_lat)");
        }
      }
    }
  }

  // The engine on top: notifications counted exactly once under load, and striping
  // over every rail.
  void engine_checks(size_t rails) {
    InProcessExchange exchange;
    exchange.add("qualify-a");
    exchange.add("qualify-b");
    EngineConfig config;
    config.transfer_timeout_ns = options_.timeout_ns;
    Engine ea("qualify-a", a_, exchange, config), eb("qualify-b", b_, exchange, config);
    auto progress_of = [&] {
      const EngineStats s = ea.stats();
      uint64_t bytes = 0, ops = 0, retries = 0;
      for (const auto& r : s.rails) bytes += r.bytes, ops += r.operations, retries += r.retries;
      return " (engine so far: " + std::to_string(ops) + " work requests, " + std::to_string(bytes) + " bytes, " +
             std::to_string(retries) + " retries, peer connected: " + (ea.peer_connected("qualify-b") ? "yes" : "no") + ")";
    };
    if (auto ok = ea.open(); !ok.ok()) return report_.add("functional", "engine/open", ok.error().to_string());
    if (auto ok = eb.open(); !ok.ok()) return report_.add("functional", "engine/open", ok.error().to_string());
    auto drive_until = [&](const std::function<bool()>& done) {
      const uint64_t deadline = driver_.now() + options_.timeout_ns;
      uint64_t idle = 0, last = driver_.now();
      while (!done()) {
        const bool moved = ea.progress() | eb.progress() | a_.progress() | b_.progress();
        const uint64_t now = driver_.now();
        if (now >= deadline) return false;
        idle = (!moved && now == last) ? idle + 1 : 0;
        if (idle > 100000) return false;
        last = now;
      }
      return true;
    };
    const uint64_t bytes = 16 << 20;
    std::vector<uint8_t> src(bytes), dst(bytes, 0);
    for (uint64_t i = 0; i < bytes; ++i) src[i] = pattern(9, i);
    auto sreg = ea.register_memory(src.data(), bytes);
    auto dreg = eb.register_memory(dst.data(), bytes);
    if (!sreg.ok() || !dreg.ok()) return report_.add("functional", "engine/register", "registration failed");
    if (!ea.add_peer("qualify-b").ok()) return report_.add("functional", "engine/peer", "add_peer failed");
    auto region = ea.import_region("qualify-b", (*dreg)->descriptor().serialize());
    if (!region.ok()) return report_.add("functional", "engine/import", region.error().to_string());

    // ImmCounter under load: many small writes, each with its own notification index.
    const uint32_t n = static_cast<uint32_t>(options_.thresholds.imm_load_notifications);
    uint32_t ok_writes = 0, failed = 0;
    std::string first_failure;
    bool counted = false, expect_failed = false;
    if (!eb.expect("qualify-a", 1, std::min<uint32_t>(n, 65536), [&](const TransferResult& r) {
           counted = r.ok();
           expect_failed = !r.ok();
         }).ok()) {
      return report_.add("functional", "engine/imm-counter-under-load", "expect refused");
    }
    for (uint32_t i = 0; i < n && i < 65536; ++i) {
      const uint64_t offset = (i * 64) % (bytes - 64);
      auto id = ea.write("qualify-b", src.data() + offset, 64, *region, offset, Notify{1, static_cast<uint16_t>(i)},
                         [&](const TransferResult& r) {
                           if (r.ok()) {
                             ++ok_writes;
                           } else {
                             if (first_failure.empty()) first_failure = r.error().message;
                             ++failed;
                           }
                         });
      if (!id.ok()) return report_.add("functional", "engine/imm-counter-under-load", id.error().to_string());
    }
    const bool finished = drive_until([&] { return (ok_writes + failed >= std::min<uint32_t>(n, 65536)) && (counted || expect_failed); });
    report_.add("functional", "engine/imm-counter-under-load",
        !finished ? "did not finish: " + std::to_string(ok_writes) + " writes done"
        : failed  ? std::to_string(failed) + " writes failed: " + first_failure + progress_of()
        : !counted ? "the notifications were not all counted"
                   : "");

    // Striping: one large write lands whole, and every rail carried part of it.
    bool done = false;
    TransferResult result;
    std::fill(dst.begin(), dst.end(), 0);
    auto id = ea.write("qualify-b", src.data(), bytes, *region, 0, std::nullopt, [&](const TransferResult& r) {
      done = true;
      result = r;
    });
    if (!id.ok()) return report_.add("functional", "engine/striping", id.error().to_string());
    if (!drive_until([&] { return done; })) return report_.add("functional", "engine/striping", "did not finish" + progress_of());
    std::string failure = result.ok() ? (dst == src ? "" : "data differs") : result.error().message + progress_of();
    if (failure.empty() && rails > 1) {
      const EngineStats stats = ea.stats();
      for (size_t r = 0; r < rails; ++r) {
        if (stats.rails[r].bytes == 0) failure = "rail " + std::to_string(r) + " carried nothing";
      }
    }
    report_.add("functional", rails > 1 ? "engine/striping-over-" + std::to_string(rails) + "-rails" : "engine/large-write",
        failure);
  }

  Provider& a_;
  Provider& b_;
  Options options_;
  Driver driver_;
  Report report_;
};

}  // namespace

Report run(Provider& a, Provider& b, const Options& options) { return Suite(a, b, options).run(); }

}  // namespace ferry::qualify
