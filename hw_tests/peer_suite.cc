#include "hw_tests/peer_suite.h"

#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hw_tests/lane.h"
#include "transport/engine/engine.h"
#include "transport/engine/tcp_exchange.h"

namespace ferry::qualify {
namespace {

constexpr const char* kServerName = "qualify-server";
constexpr const char* kClientName = "qualify-client";
constexpr uint64_t kEngineBytes = 16 << 20;
constexpr uint64_t kEngineSeed = 9;

// The peer's side of a lane, as it described it.
struct PeerSide {
  std::vector<uint8_t> address;
  uint64_t addr = 0;
  uint64_t bytes = 0;
  uint32_t rkey = 0;
  uint32_t read_only_rkey = 0;
};

struct PeerLane {
  Side local;
  PeerSide peer;
  double measured = -1;  // what the client's act measured, if anything
};

using Step = std::function<std::string(PeerLane&)>;

// What the callbacks of a check's transfers report. Shared with them, so that a callback
// that comes after its check gave up (on a timeout) writes into live memory.
struct Tally {
  uint32_t done = 0;
  uint32_t failed = 0;
  int in_flight = 0;
  bool ended = false;  // an expectation's end
  bool ok = false;
  std::string first_failure;
  uint64_t failed_at = 0;
};

// A transfer's or expectation's callback that records how it ended into `tally`.
TransferDone record_end(std::shared_ptr<Tally> tally) {
  return [tally](const TransferResult& r) {
    tally->ended = true;
    tally->ok = r.ok();
    tally->first_failure = r.ok() ? "" : r.error().message;
  };
}

// One check on a fresh lane: the server prepares, the client acts, the server verifies.
struct LaneCheck {
  LaneCheck(std::string n, Step p, Step a, Step v)
      : name(std::move(n)), prepare(std::move(p)), act(std::move(a)), verify(std::move(v)) {}
  std::string name;
  Step prepare;
  Step act;
  Step verify;
  Step serve;  // the server's part while the client acts (ping-pong); in the verdict
  EndpointConfig tweaks;
  size_t bytes = 1 << 16;
};

// What a side offers on one rail.
struct RailCaps {
  bool ordered = false;
  bool unordered = false;
  bool read = false;
};

class PeerSuite {
 public:
  PeerSuite(Provider& local, PeerLink& link, PeerRole role, const PeerOptions& options)
      : local_(local),
        link_(link),
        server_(role == PeerRole::kServer),
        options_(options),
        driver_(local, local, options.suite.timeout_ns),
        // The peer may itself be waiting out a timeout before it answers.
        link_timeout_ns_(2 * options.suite.timeout_ns + 5'000'000'000ull) {}

  Report run() {
    report_.provider = local_.name();
    for (size_t r = 0; r < local_.device_count(); ++r) report_.devices.push_back(local_.device(r).attributes().name);
    if (!hello()) return report_;
    const size_t rails = std::min(local_.device_count(), peer_caps_.size());
    for (size_t r = 0; r < rails && ok(); ++r) {
      for (EndpointKind kind : {EndpointKind::kRc, EndpointKind::kSrd}) {
        if (!supports(r, kind) || !ok()) continue;
        const std::string prefix = "rail" + std::to_string(r) + "/" + to_string(kind) + "/";
        if (options_.suite.functional) functional(r, kind, prefix);
        if (options_.suite.robustness) robustness(r, kind, prefix);
        if (options_.suite.performance && r == 0) performance(r, kind, prefix);
      }
    }
    if (ok() && (options_.suite.functional || options_.suite.robustness)) engine_checks();
    if (!ok()) report_.add("peer", "link", link_error_);
    return report_;
  }

 private:
  bool ok() const { return link_error_.empty(); }
  const char* me() const { return server_ ? "server" : "client"; }
  const char* them() const { return server_ ? "client" : "server"; }

  // --- Talking over the link. Every call fails the run for good on a link error. -----

  void keep_moving() {
    if (engine_) engine_->progress();
    local_.progress();
  }

  bool send(const std::string& kind, const std::vector<uint8_t>& bytes) {
    if (!ok()) return false;
    if (auto sent = link_.send(kind, bytes); !sent.ok()) link_error_ = "sending '" + kind + "': " + sent.error().to_string();
    return ok();
  }
  std::optional<std::vector<uint8_t>> receive(const std::string& kind) {
    if (!ok()) return std::nullopt;
    // With an engine to drive, poll it while waiting; otherwise sleep on the socket, so
    // that a waiting server leaves the CPU to the NIC (on Soft-RoCE, the kernel's).
    std::function<void()> meanwhile;
    if (engine_) meanwhile = [this] { keep_moving(); };
    auto got = link_.expect(kind, link_timeout_ns_, meanwhile);
    if (!got.ok()) {
      link_error_ = got.error().to_string();
      return std::nullopt;
    }
    return std::move(got).value();
  }
  // Both send, then both read: the same kind each way.
  std::optional<std::vector<uint8_t>> swap(const std::string& kind, const std::vector<uint8_t>& mine) {
    if (!send(kind, mine)) return std::nullopt;
    return receive(kind);
  }
  // One side says `text`; both return it (nullopt: the link failed).
  std::optional<std::string> tell(const std::string& kind, bool i_say, const std::string& text) {
    if (i_say) {
      if (!send(kind, WireWriter().text(text).data())) return std::nullopt;
      return text;
    }
    auto got = receive(kind);
    if (!got) return std::nullopt;
    WireReader r(*got);
    std::string said = r.text();
    if (r.failed()) return link_error_ = "malformed '" + kind + "' from the peer", std::nullopt;
    return said;
  }
  // Both say something; returns the first non-empty of (server's, client's), prefixed.
  std::optional<std::string> both_say(const std::string& kind, const std::string& mine) {
    auto got = swap(kind, WireWriter().text(mine).data());
    if (!got) return std::nullopt;
    WireReader r(*got);
    const std::string theirs = r.text();
    if (r.failed()) return link_error_ = "malformed '" + kind + "' from the peer", std::nullopt;
    const std::string& server = server_ ? mine : theirs;
    const std::string& client = server_ ? theirs : mine;
    if (!server.empty()) return "server: " + server;
    if (!client.empty()) return "client: " + client;
    return std::string();
  }

  bool hello() {
    WireWriter w;
    w.text(local_.name()).u64(local_.device_count());
    for (size_t r = 0; r < local_.device_count(); ++r) {
      const DeviceAttributes& a = local_.device(r).attributes();
      w.u64(a.ordered).u64(a.unordered).u64(a.supports_rdma_read);
    }
    auto got = swap("hello", w.data());
    if (!got) {
      report_.add("peer", "hello", link_error_);
      return false;
    }
    WireReader r(*got);
    const std::string provider = r.text();
    const uint64_t rails = std::min<uint64_t>(r.u64(), 64);
    for (uint64_t i = 0; i < rails; ++i) {
      RailCaps c;
      c.ordered = r.u64() != 0;
      c.unordered = r.u64() != 0;
      c.read = r.u64() != 0;
      peer_caps_.push_back(c);
    }
    std::string why;
    if (r.failed()) why = "malformed hello from the peer";
    if (why.empty() && provider != local_.name()) why = std::string("the peer runs provider ") + provider + ", this side " + local_.name();
    if (why.empty() && rails == 0) why = "the peer has no device";
    if (!why.empty()) {
      report_.add("peer", "hello", why);
      link_error_ = why;
      return false;
    }
    return true;
  }

  bool supports(size_t rail, EndpointKind kind) const {
    const DeviceAttributes& a = local_.device(rail).attributes();
    const RailCaps& p = peer_caps_[rail];
    return kind == EndpointKind::kRc ? a.ordered && p.ordered : a.unordered && p.unordered;
  }

  // --- Lanes ------------------------------------------------------------------------

  // Runs one check in lock step; "" when it passed, else why not. *measured gets what
  // the client measured (on both sides).
  std::string run_lane(const LaneCheck& check, size_t rail, EndpointKind kind, double* measured = nullptr) {
    PeerLane lane;
    const std::string opened = open_side(local_, rail, kind, check.bytes, check.tweaks, &lane.local);
    WireWriter w;
    w.text(opened);
    if (opened.empty()) {
      w.bytes(lane.local.endpoint->address())
          .u64(lane.local.addr())
          .u64(lane.local.buffer.size())
          .u64(lane.local.region->rkey())
          .u64(lane.local.read_only->rkey());
    }
    auto got = swap("side", w.data());
    if (!got) return link_error_;
    WireReader r(*got);
    const std::string their_open = r.text();
    if (their_open.empty()) {
      lane.peer.address = r.bytes();
      lane.peer.addr = r.u64();
      lane.peer.bytes = r.u64();
      lane.peer.rkey = static_cast<uint32_t>(r.u64());
      lane.peer.read_only_rkey = static_cast<uint32_t>(r.u64());
    }
    if (r.failed()) return link_error_ = "malformed side from the peer";
    if (!opened.empty()) return std::string("cannot open a lane on the ") + me() + ": " + opened;
    if (!their_open.empty()) return std::string("cannot open a lane on the ") + them() + ": " + their_open;

    auto connected = lane.local.endpoint->connect(lane.peer.address);
    auto why = both_say("connected", connected.ok() ? "" : "connect: " + connected.error().to_string());
    if (!why) return link_error_;
    if (!why->empty()) return *why;

    auto prepared = tell("ready", server_, server_ && check.prepare ? check.prepare(lane) : "");
    if (!prepared) return link_error_;
    if (!prepared->empty()) return "server: " + *prepared;
    const std::string served = server_ && check.serve ? check.serve(lane) : "";
    auto acted = tell("acted", !server_, !server_ && check.act ? check.act(lane) : "");
    if (!acted) return link_error_;
    auto verdict = tell("verdict", server_,
                        !served.empty() ? served : server_ && acted->empty() && check.verify ? check.verify(lane) : "");
    if (!verdict) return link_error_;
    if (measured) {
      auto value = swap("measured", WireWriter().u64(static_cast<uint64_t>(std::max(0.0, lane.measured) * 1e6)).data());
      if (!value) return link_error_;
      WireReader r(*value);
      const uint64_t theirs = r.u64();
      *measured = static_cast<double>(server_ ? theirs : static_cast<uint64_t>(std::max(0.0, lane.measured) * 1e6)) / 1e6;
    }
    return blame(*acted, *verdict);
  }

  // A check's failure: the client's, if acting failed, else the server's verdict.
  static std::string blame(const std::string& acted, const std::string& verdict) {
    if (!acted.empty()) return "client: " + acted;
    return verdict.empty() ? "" : "server: " + verdict;
  }

  // The server's verdict crosses to the client; both record the check.
  void conclude(const std::string& name, const std::string& acted, const std::string& verdict) {
    auto said = tell("verdict", server_, verdict);
    if (said) report_.add("functional", name, blame(acted, *said));
  }

  void lane_check(const std::string& group, size_t rail, EndpointKind kind, const LaneCheck& check) {
    const std::string failure = run_lane(check, rail, kind);
    if (ok()) report_.add(group, check.name, failure);
  }

  std::string post_one(PeerLane& l, const WorkRequest& wr, Completion* out) {
    if (auto posted = l.local.endpoint->post_send({&wr, 1}); !posted.ok()) return "post: " + posted.error().to_string();
    std::vector<Completion> got;
    if (auto why = driver_.collect(*l.local.cq, 1, &got); !why.empty()) return why;
    *out = got[0];
    return "";
  }

  static std::string canary(PeerLane& l) {
    l.local.canary();
    return "";
  }
  static std::string untouched(PeerLane& l) {
    return l.local.untouched() ? "" : "the target's memory was touched";
  }

  void functional(size_t rail, EndpointKind kind, const std::string& prefix) {
    const std::string g = "functional";
    auto check = [&](LaneCheck c) { lane_check(g, rail, kind, c); };

    check({prefix + "write-gather", canary,
           [&](PeerLane& l) {
             l.local.fill(1);
             Sge sges[3] = {l.local.sge(0, 1000), l.local.sge(5000, 24), l.local.sge(9000, 3000)};
             WorkRequest wr{1, Opcode::kWrite, sges, 3, l.peer.addr + 100, l.peer.rkey};
             Completion c;
             if (auto why = post_one(l, wr, &c); !why.empty()) return why;
             return expect_status(c, Status::kSuccess, "write");
           },
           [](PeerLane& l) {
             std::string bad = compare_pattern(l.local, 100, 1, 0, 1000);
             if (bad.empty()) bad = compare_pattern(l.local, 1100, 1, 5000, 24);
             if (bad.empty()) bad = compare_pattern(l.local, 1124, 1, 9000, 3000);
             if (bad.empty() && (l.local.buffer[99] != kCanary || l.local.buffer[4124] != kCanary)) {
               bad = "wrote outside the target range";
             }
             return bad;
           }});

    check({prefix + "write-with-imm",
           [](PeerLane& l) {
             RecvRequest recv{77, nullptr, 0};
             auto r = l.local.endpoint->post_recv({&recv, 1});
             return r.ok() ? std::string() : r.error().to_string();
           },
           [&](PeerLane& l) {
             l.local.fill(2);
             Sge sge = l.local.sge(0, 4096);
             WorkRequest wr{2, Opcode::kWriteWithImm, &sge, 1, l.peer.addr, l.peer.rkey, 0xc0ffee};
             Completion c;
             if (auto why = post_one(l, wr, &c); !why.empty()) return why;
             return expect_status(c, Status::kSuccess, "write-with-imm");
           },
           [&](PeerLane& l) {
             std::vector<Completion> got;
             if (auto why = driver_.collect(*l.local.cq, 1, &got); !why.empty()) return why;
             const Completion& t = got[0];
             if (t.status != Status::kSuccess || t.kind != CompletionKind::kRecvWriteWithImm || !t.has_imm ||
                 t.imm != 0xc0ffee || t.byte_len != 4096 || t.cookie != 77) {
               return std::string("target completion wrong: ") + to_string(t.status) + ", " + to_string(t.kind) +
                      ", imm " + std::to_string(t.imm) + ", " + std::to_string(t.byte_len) + " bytes";
             }
             return compare_pattern(l.local, 0, 2, 0, 4096);
           }});

    if (local_.device(rail).attributes().supports_rdma_read && peer_caps_[rail].read) {
      check({prefix + "read",
             [](PeerLane& l) {
               l.local.fill(3);
               return std::string();
             },
             [&](PeerLane& l) {
               l.local.canary();
               Sge sge = l.local.sge(64, 8192);
               WorkRequest wr{3, Opcode::kRead, &sge, 1, l.peer.addr + 1000, l.peer.rkey};
               Completion c;
               if (auto why = post_one(l, wr, &c); !why.empty()) return why;
               if (auto why = expect_status(c, Status::kSuccess, "read"); !why.empty()) return why;
               std::string bad = compare_pattern(l.local, 64, 3, 1000, 8192);
               if (bad.empty() && (l.local.buffer[63] != kCanary || l.local.buffer[64 + 8192] != kCanary)) {
                 bad = "the read landed outside its range";
               }
               return bad;
             },
             {}});
    } else {
      report_.add_not_run(g, prefix + "read", "a device does not support RDMA read");
    }

    check({prefix + "send-recv-scatter",
           [](PeerLane& l) {
             l.local.canary();
             Sge into[2] = {l.local.sge(0, 100), l.local.sge(2000, 1000)};
             RecvRequest recv{5, into, 2};
             auto r = l.local.endpoint->post_recv({&recv, 1});
             return r.ok() ? std::string() : r.error().to_string();
           },
           [&](PeerLane& l) {
             l.local.fill(4);
             Sge sge = l.local.sge(0, 600);
             WorkRequest wr{4, Opcode::kSend, &sge, 1};
             Completion c;
             if (auto why = post_one(l, wr, &c); !why.empty()) return why;
             return expect_status(c, Status::kSuccess, "send");
           },
           [&](PeerLane& l) {
             std::vector<Completion> got;
             if (auto why = driver_.collect(*l.local.cq, 1, &got); !why.empty()) return why;
             if (got[0].status != Status::kSuccess || got[0].byte_len != 600) {
               return std::string("recv: ") + to_string(got[0].status) + ", " + std::to_string(got[0].byte_len) + " bytes";
             }
             std::string bad = compare_pattern(l.local, 0, 4, 0, 100);
             if (bad.empty()) bad = compare_pattern(l.local, 2000, 4, 100, 500);
             if (bad.empty() && l.local.buffer[2500] != kCanary) bad = "wrote past the message";
             return bad;
           }});

    check({prefix + "batch-of-64", canary,
           [&](PeerLane& l) {
             l.local.fill(5);
             std::vector<Sge> sges(64);
             std::vector<WorkRequest> wrs(64);
             for (int i = 0; i < 64; ++i) {
               sges[i] = l.local.sge(i * 512, 512);
               wrs[i] = WorkRequest{static_cast<uint64_t>(i), Opcode::kWrite, &sges[i], 1, l.peer.addr + i * 512, l.peer.rkey};
               wrs[i].signaled = i % 4 == 3;
             }
             if (auto posted = l.local.endpoint->post_send(wrs); !posted.ok()) return posted.error().to_string();
             std::vector<Completion> got;
             if (auto why = driver_.collect(*l.local.cq, 16, &got); !why.empty()) return why;
             for (size_t i = 0; i < got.size(); ++i) {
               if (got[i].status != Status::kSuccess) return std::string("completion ") + to_string(got[i].status);
               if (kind == EndpointKind::kRc && got[i].cookie != i * 4 + 3) return std::string("RC completions out of posting order");
             }
             if (!driver_.stays_empty(*l.local.cq)) return std::string("an unsignaled request produced a completion");
             return std::string();
           },
           [](PeerLane& l) {
             std::string bad = compare_pattern(l.local, 0, 5, 0, 64 * 512);
             if (bad.empty() && l.local.buffer[64 * 512] != kCanary) bad = "wrote past the batch";
             return bad;
           }});

    errors(rail, kind, prefix);
  }

  void errors(size_t rail, EndpointKind kind, const std::string& prefix) {
    const std::string g = "functional";
    auto refused_write = [&](const char* name, Status want, std::function<void(PeerLane&, WorkRequest&, Sge&)> mutate) {
      lane_check(g, rail, kind,
                 {prefix + name, canary,
                  [&](PeerLane& l) {
                    l.local.fill(6);
                    Sge sge = l.local.sge(0, 256);
                    WorkRequest wr{9, Opcode::kWrite, &sge, 1, l.peer.addr, l.peer.rkey};
                    mutate(l, wr, sge);
                    Completion c;
                    if (auto why = post_one(l, wr, &c); !why.empty()) return why;
                    return expect_status(c, want, name);
                  },
                  untouched});
    };
    refused_write("error/wrong-rkey", Status::kRemoteAccessError,
                  [](PeerLane& l, WorkRequest& wr, Sge&) { wr.rkey = l.peer.rkey ^ 0x5a5a00; });
    refused_write("error/out-of-bounds", Status::kRemoteAccessError,
                  [](PeerLane& l, WorkRequest& wr, Sge&) { wr.remote_addr = l.peer.addr + l.peer.bytes - 255; });
    refused_write("error/no-remote-write-right", Status::kRemoteAccessError,
                  [](PeerLane& l, WorkRequest& wr, Sge&) { wr.rkey = l.peer.read_only_rkey; });
    refused_write("error/bad-lkey", Status::kLocalProtectionError,
                  [](PeerLane& l, WorkRequest&, Sge& sge) { sge.lkey = l.local.region->lkey() ^ 0x5a5a00; });

    lane_check(g, rail, kind,
               {prefix + "error/send-longer-than-recv",
                [](PeerLane& l) {
                  l.local.canary();
                  Sge into = l.local.sge(0, 64);
                  RecvRequest recv{1, &into, 1};
                  auto r = l.local.endpoint->post_recv({&recv, 1});
                  return r.ok() ? std::string() : r.error().to_string();
                },
                [&](PeerLane& l) {
                  Sge sge = l.local.sge(0, 65);
                  WorkRequest wr{2, Opcode::kSend, &sge, 1};
                  Completion c;
                  if (auto why = post_one(l, wr, &c); !why.empty()) return why;
                  return expect_send_too_long(c);
                },
                {}});

    LaneCheck rnr{prefix + "error/receiver-not-ready", {},
                  [&](PeerLane& l) {
                    Sge sge = l.local.sge(0, 8);
                    WorkRequest wr{3, Opcode::kSend, &sge, 1};
                    Completion c;
                    if (auto why = post_one(l, wr, &c); !why.empty()) return why;
                    return expect_status(c, Status::kRnrRetryExceeded, "send with no recv posted");
                  },
                  {}};
    rnr.tweaks.rnr_retry = 1;
    rnr.tweaks.rnr_timer_ns = 10'000;
    lane_check(g, rail, kind, rnr);

    lane_check(g, rail, kind,
               {prefix + "error/flush",
                [&](PeerLane& l) {
                  RecvRequest recv{11, nullptr, 0};
                  if (auto r = l.local.endpoint->post_recv({&recv, 1}); !r.ok()) return r.error().to_string();
                  l.local.endpoint->set_error();
                  std::vector<Completion> got;
                  if (auto why = driver_.collect(*l.local.cq, 1, &got); !why.empty()) return why;
                  return expect_status(got[0], Status::kFlushed, "posted recv after set_error");
                },
                {}, {}});
  }

  void robustness(size_t rail, EndpointKind kind, const std::string& prefix) {
    // The client's endpoint in error flushes its write and nothing lands; a fresh pair
    // on the same device then carries a write whole.
    std::string failure = run_lane({prefix + "error-then-fresh-endpoint", canary,
                                    [&](PeerLane& l) {
                                      l.local.endpoint->set_error();
                                      Sge sge = l.local.sge(0, 64);
                                      WorkRequest wr{1, Opcode::kWrite, &sge, 1, l.peer.addr, l.peer.rkey};
                                      Completion c;
                                      if (auto why = post_one(l, wr, &c); !why.empty()) return why;
                                      return expect_status(c, Status::kFlushed, "write on an endpoint in error");
                                    },
                                    untouched},
                                   rail, kind);
    if (!ok()) return;
    if (failure.empty()) {
      failure = run_lane({prefix + "error-then-fresh-endpoint", canary,
                          [&](PeerLane& l) {
                            l.local.fill(8);
                            Sge sge = l.local.sge(0, 4096);
                            WorkRequest wr{2, Opcode::kWrite, &sge, 1, l.peer.addr, l.peer.rkey};
                            Completion c;
                            if (auto why = post_one(l, wr, &c); !why.empty()) return why;
                            return expect_status(c, Status::kSuccess, "write on the fresh endpoint");
                          },
                          [](PeerLane& l) { return compare_pattern(l.local, 0, 8, 0, 4096); }},
                         rail, kind);
      if (!ok()) return;
    }
    report_.add("robustness", prefix + "error-then-fresh-endpoint", failure);
  }

  // --- Performance between the processes ------------------------------------------------

  // Write bandwidth from client to server as ib_write_bw measures it, posted as
  // bandwidth_window() says (lane.h).
  std::string write_bandwidth(PeerLane& l, uint64_t bytes) {
    const auto [window, per_post] = bandwidth_window(bytes);
    const uint64_t total = std::max<uint64_t>(bytes * 32, options_.suite.bw_total_bytes);
    const int count = static_cast<int>(std::max<uint64_t>(total / bytes / per_post, window / per_post)) * per_post;
    Sge sge = l.local.sge(0, static_cast<uint32_t>(bytes));
    std::vector<WorkRequest> batch(per_post, WorkRequest{0, Opcode::kWrite, &sge, 1, l.peer.addr, l.peer.rkey});
    for (int i = 0; i < per_post; ++i) batch[i].signaled = i + 1 == per_post;
    std::vector<Completion> got;
    const uint64_t t0 = driver_.now();
    int posted = 0, done = 0;
    while (done < count) {
      while (posted < count && posted - done + per_post <= window) {
        if (auto r = l.local.endpoint->post_send(batch); !r.ok()) return r.error().to_string();
        posted += per_post;
      }
      if (auto why = driver_.collect(*l.local.cq, 1, &got); !why.empty()) return why;
      if (got[0].status != Status::kSuccess) return std::string("write: ") + to_string(got[0].status);
      done += per_post;
    }
    const double seconds = static_cast<double>(driver_.now() - t0) * 1e-9;
    l.measured = seconds > 0 ? static_cast<double>(bytes) * count * 8 / seconds / 1e9 : 0;
    return "";
  }

  // One side of the memory-polled ping-pong (as ib_write_lat): the client writes 8 bytes
  // into the server's buffer and spins on its own buffer's last byte; the server spins,
  // then writes back. Completions are asked for every 64 writes, to free the send queue.
  // The client's figure is the median round trip over two, in µs.
  static constexpr int kPingRounds = 1000;
  std::string ping_pong(PeerLane& l, bool client) {
    constexpr int kSignalEvery = 64;
    constexpr uint64_t kLand = 120;  // the 8 bytes land at [120, 128); byte 127 is watched
    RoundTimer timer(driver_, kPingRounds);
    std::vector<Completion> got;
    uint64_t deadline = 0;
    for (int i = 1; i <= kPingRounds; ++i) {
      const uint8_t mark = static_cast<uint8_t>(i % 255 + 1);
      auto post = [&]() -> std::string {
        l.local.buffer[7] = mark;
        Sge sge = l.local.sge(0, 8);
        WorkRequest wr{static_cast<uint64_t>(i), Opcode::kWrite, &sge, 1, l.peer.addr + kLand, l.peer.rkey};
        wr.signaled = i % kSignalEvery == 0;
        auto r = l.local.endpoint->post_send({&wr, 1});
        return r.ok() ? "" : r.error().to_string();
      };
      // The clock for the deadline once per kSignalEvery rounds, not in every round.
      if (i % kSignalEvery == 1) deadline = driver_.now() + options_.suite.timeout_ns;
      if (client) {
        timer.stamp();
        if (auto why = post(); !why.empty()) return why;
      }
      if (auto why = driver_.spin_until(l.local.buffer.data() + kLand + 7, mark, deadline); !why.empty()) {
        return "round " + std::to_string(i) + ": " + why;
      }
      if (!client) {
        if (auto why = post(); !why.empty()) return why;
      }
      if (i % kSignalEvery == 0) {
        if (auto why = driver_.collect(*l.local.cq, 1, &got); !why.empty()) return why;
        if (got[0].status != Status::kSuccess) return std::string("write: ") + to_string(got[0].status);
      }
    }
    if (client) {
      timer.stamp();
      l.measured = timer.median_ns() / 1000.0 / 2;
    }
    return "";
  }

  void performance(size_t rail, EndpointKind kind, const std::string& prefix) {
    if (!options_.suite.perf_write) return;
    const Thresholds& t = options_.suite.thresholds;
    const double line = local_.device(rail).attributes().link_gbps;
    for (uint64_t bytes = options_.suite.min_bytes; bytes <= options_.suite.max_bytes && ok(); bytes *= 4) {
      const std::string name = prefix + "write-bw/" + std::to_string(bytes);
      LaneCheck c{name, {}, [&, bytes](PeerLane& l) { return write_bandwidth(l, bytes); }, {}};
      c.bytes = bytes;
      double gbps = 0;
      const std::string failure = run_lane(c, rail, kind, &gbps);
      if (!ok()) return;
      if (!failure.empty()) {
        report_.add("performance", name, failure);
        continue;
      }
      const bool held = bytes >= t.bw_large_bytes;
      char detail[128];
      if (held) {
        std::snprintf(detail, sizeof detail, "held to %g Gb/s x %g; two processes", line, t.write_bw_min_fraction);
      } else {
        std::snprintf(detail, sizeof detail, "reported only; line rate %g Gb/s; two processes", line);
      }
      report_.add_measure(name, gbps, "Gb/s", held ? t.write_bw_min_fraction * line : 0, true, detail);
    }
    if (!ok()) return;
    const std::string name = prefix + "write-lat-poll/8";
    LaneCheck c{name, {}, [&](PeerLane& l) { return ping_pong(l, true); }, {}};
    c.serve = [&](PeerLane& l) { return ping_pong(l, false); };
    double us = 0;
    const std::string failure = run_lane(c, rail, kind, &us);
    if (!ok()) return;
    if (!failure.empty()) return report_.add("performance", name, failure);
    report_.add_measure(name, us, "us", t.write_lat_max_us, false,
                "half round trip of 8 bytes, memory polled (as ib_write_lat); two processes");
  }

  // --- The engine over a TcpExchange ---------------------------------------------------

  // Drives the engine until `done` or `timeout_ns` passes.
  bool drive_until(const std::function<bool()>& done, uint64_t timeout_ns) {
    const uint64_t deadline = local_.clock().now_ns() + timeout_ns;
    while (!done()) {
      keep_moving();
      if (local_.clock().now_ns() >= deadline) return false;
    }
    return true;
  }
  // The same for an engine check's transfers: they end by the transfer timeout at the
  // latest, so the wait is that plus a second.
  bool drive_until_transfers_end(const std::function<bool()>& done) {
    return drive_until(done, options_.suite.timeout_ns + 1'000'000'000);
  }

  std::string open_engine() {
    const std::string my_name = server_ ? kServerName : kClientName;
    const std::string peer_name = server_ ? kClientName : kServerName;
    std::string why;
    auto exchange = TcpExchange::listen(my_name, link_.local_host(), 0);
    if (exchange.ok()) {
      exchange_ = std::move(exchange).value();
    } else {
      why = "exchange: " + exchange.error().to_string();
    }
    auto got = swap("exchange", WireWriter().text(why).u64(exchange_ ? exchange_->port() : 0).data());
    if (!got) return link_error_;
    WireReader r(*got);
    const std::string their_why = r.text();
    const uint64_t their_port = r.u64();
    if (r.failed()) return link_error_ = "malformed exchange message from the peer";
    if (!why.empty()) return std::string(me()) + ": " + why;
    if (!their_why.empty()) return std::string(them()) + ": " + their_why;
    if (auto added = exchange_->add_peer(peer_name, host_port(link_.peer_host(), their_port)); !added.ok()) {
      why = "exchange: " + added.error().to_string();
    }
    EngineConfig config;
    config.transfer_timeout_ns = options_.suite.timeout_ns;
    engine_ = std::make_unique<Engine>(my_name, local_, *exchange_, config);
    if (why.empty()) {
      if (auto opened = engine_->open(); !opened.ok()) why = "engine open: " + opened.error().to_string();
    }
    engine_buffer_.assign(kEngineBytes, 0);
    if (!server_) {
      for (uint64_t i = 0; i < kEngineBytes; ++i) engine_buffer_[i] = pattern(kEngineSeed, i);
    }
    std::vector<uint8_t> descriptor;
    if (why.empty()) {
      auto reg = engine_->register_memory(engine_buffer_.data(), engine_buffer_.size());
      if (reg.ok()) {
        descriptor = (*reg)->descriptor().serialize();
      } else {
        why = "register: " + reg.error().to_string();
      }
    }
    if (why.empty()) {
      if (auto added = engine_->add_peer(peer_name); !added.ok()) why = "add_peer: " + added.error().to_string();
    }
    got = swap("region", WireWriter().text(why).bytes(descriptor).data());
    if (!got) return link_error_;
    WireReader rr(*got);
    const std::string their_region_why = rr.text();
    const std::vector<uint8_t> their_descriptor = rr.bytes();
    if (rr.failed()) return link_error_ = "malformed region message from the peer";
    if (!why.empty()) return std::string(me()) + ": " + why;
    if (!their_region_why.empty()) return std::string(them()) + ": " + their_region_why;
    if (!server_) {
      auto region = engine_->import_region(peer_name, their_descriptor);
      if (!region.ok()) return "import_region: " + region.error().to_string();
      server_region_ = *region;
    }
    return "";
  }

  std::string engine_progress() const {
    const EngineStats s = engine_->stats();
    uint64_t bytes = 0, ops = 0, retries = 0;
    for (const auto& r : s.rails) bytes += r.bytes, ops += r.operations, retries += r.retries;
    return " (engine so far: " + std::to_string(ops) + " work requests, " + std::to_string(bytes) + " bytes, " +
           std::to_string(retries) + " retries)";
  }

  // "byte N differs" for the first byte in [begin, end) of the engine buffer that lacks
  // the pattern; empty when none does.
  std::string wrong_byte(uint64_t begin, uint64_t end) const {
    for (uint64_t b = begin; b < end; ++b) {
      if (engine_buffer_[b] != pattern(kEngineSeed, b)) return "byte " + std::to_string(b) + " differs";
    }
    return "";
  }

  void engine_checks() {
    const std::string opened = open_engine();
    if (!ok()) return;
    auto opened_everywhere = both_say("engine-open", opened);
    if (!opened_everywhere) return;
    if (!opened_everywhere->empty()) {
      if (options_.suite.functional) report_.add("functional", "engine/open", *opened_everywhere);
      if (options_.suite.robustness) report_.add("robustness", "peer-process-killed", "engines did not open: " + *opened_everywhere);
      return;
    }
    if (options_.suite.functional) {
      imm_counter_under_load();
      if (ok()) large_write();
    }
    if (ok() && options_.suite.robustness) peer_process_killed();
  }

  const std::string& peer_name() const {
    static const std::string server = kServerName, client = kClientName;
    return server_ ? client : server;
  }

  // Many small writes, each with its own notification index: the server's ImmCounter
  // counts every one exactly once, and every byte landed.
  void imm_counter_under_load() {
    const uint32_t n = static_cast<uint32_t>(std::min<double>(options_.suite.thresholds.imm_load_notifications, 65536));
    const std::string name = "engine/imm-counter-under-load";
    auto tally = std::make_shared<Tally>();
    std::string expect_why;
    if (server_) {
      auto e = engine_->expect(peer_name(), 1, n, record_end(tally));
      expect_why = e.ok() ? "" : "expect refused: " + e.error().to_string();
    }
    auto ready = tell("ready", server_, expect_why);
    if (!ready) return;
    if (!ready->empty()) return report_.add("functional", name, "server: " + *ready);
    std::string act;
    if (!server_) {
      for (uint32_t i = 0; i < n && act.empty(); ++i) {
        const uint64_t offset = (i * 64ull) % (kEngineBytes - 64);
        auto id = engine_->write(peer_name(), engine_buffer_.data() + offset, 64, server_region_, offset,
                                 Notify{1, static_cast<uint16_t>(i)}, [tally](const TransferResult& r) {
                                   ++tally->done;
                                   if (!r.ok() && tally->failed++ == 0) tally->first_failure = r.error().message;
                                 });
        if (!id.ok()) act = "write " + std::to_string(i) + ": " + id.error().to_string();
      }
      if (act.empty() && !drive_until_transfers_end([&] { return tally->done >= n; })) {
        act = "only " + std::to_string(tally->done) + " of " + std::to_string(n) + " writes ended" + engine_progress();
      }
      if (act.empty() && tally->failed > 0) {
        act = std::to_string(tally->failed) + " writes failed: " + tally->first_failure + engine_progress();
      }
    }
    auto acted = tell("acted", !server_, act);
    if (!acted) return;
    std::string verdict;
    if (server_ && acted->empty()) {
      if (!drive_until_transfers_end([&] { return tally->ended; })) {
        verdict = "the expectation never ended";
      } else if (!tally->ok) {
        verdict = "the notifications were not all counted: " + tally->first_failure;
      }
      for (uint32_t i = 0; i < n && verdict.empty(); ++i) {
        const uint64_t offset = (i * 64ull) % (kEngineBytes - 64);
        verdict = wrong_byte(offset, offset + 64);
      }
    }
    conclude(name, *acted, verdict);
  }

  // One 16 MiB write lands whole (striped over every rail when there are several).
  void large_write() {
    const size_t rails = engine_->rail_count();
    const std::string name = rails > 1 ? "engine/striping-over-" + std::to_string(rails) + "-rails" : "engine/large-write";
    auto tally = std::make_shared<Tally>();
    std::string expect_why;
    if (server_) {
      std::fill(engine_buffer_.begin(), engine_buffer_.end(), 0);
      auto e = engine_->expect(peer_name(), 2, 1, record_end(tally));
      expect_why = e.ok() ? "" : "expect refused: " + e.error().to_string();
    }
    auto ready = tell("ready", server_, expect_why);
    if (!ready) return;
    if (!ready->empty()) return report_.add("functional", name, "server: " + *ready);
    std::string act;
    if (!server_) {
      auto id = engine_->write(peer_name(), engine_buffer_.data(), kEngineBytes, server_region_, 0, Notify{2, 0},
                               record_end(tally));
      if (!id.ok()) {
        act = id.error().to_string();
      } else if (!drive_until_transfers_end([&] { return tally->ended; })) {
        act = "did not finish" + engine_progress();
      } else if (!tally->ok) {
        act = tally->first_failure + engine_progress();
      } else if (rails > 1) {
        const EngineStats stats = engine_->stats();
        for (size_t r = 0; r < rails; ++r) {
          if (stats.rails[r].bytes == 0) act = "rail " + std::to_string(r) + " carried nothing";
        }
      }
    }
    auto acted = tell("acted", !server_, act);
    if (!acted) return;
    std::string verdict;
    if (server_ && acted->empty()) {
      if (!drive_until_transfers_end([&] { return tally->ended; })) {
        verdict = "the notification never came";
      } else if (!tally->ok) {
        verdict = "the expectation failed: " + tally->first_failure;
      }
      if (verdict.empty()) verdict = wrong_byte(0, kEngineBytes);
    }
    conclude(name, *acted, verdict);
  }

  // The client keeps 4 MiB engine writes in flight; once one has landed it asks the
  // server to die, and the server kills its own process. The client must then see its
  // transfers fail (retry limits or the transfer deadline), every one of them end, and
  // nothing hang: all within the engine's transfer timeout and a margin.
  void peer_process_killed() {
    const std::string name = "peer-process-killed";
    if (server_) {
      if (!receive("die")) return;
      if (options_.die) {
        options_.die();
      } else {
        raise(SIGKILL);
      }
      // Only a simulated death comes back here: this side's part is over.
      report_.add("robustness", name, "");
      link_.close();
      return;
    }
    constexpr uint64_t kPiece = 4 << 20;
    constexpr int kInFlight = 4;
    auto tally = std::make_shared<Tally>();
    const Clock* clock = &local_.clock();
    int next = 0;
    auto start_one = [&]() {
      const uint64_t offset = (next++ % (kEngineBytes / kPiece)) * kPiece;
      auto id = engine_->write(peer_name(), engine_buffer_.data() + offset, kPiece, server_region_, offset, std::nullopt,
                               [tally, clock](const TransferResult& r) {
                                 --tally->in_flight;
                                 if (r.ok()) {
                                   ++tally->done;
                                 } else if (tally->failed++ == 0) {
                                   tally->first_failure = r.error().message;
                                   tally->failed_at = clock->now_ns();
                                 }
                               });
      if (id.ok()) {
        ++tally->in_flight;
      } else if (tally->failed++ == 0) {  // refused at once: the peer is known gone
        tally->first_failure = id.error().to_string();
        tally->failed_at = clock->now_ns();
      }
    };
    int& in_flight = tally->in_flight;
    uint32_t& failed = tally->failed;
    for (int i = 0; i < kInFlight; ++i) start_one();
    if (!drive_until([&] { return tally->done > 0 || failed > 0; }, options_.suite.timeout_ns)) {
      return report_.add("robustness", name, "no write landed before the kill" + engine_progress());
    }
    if (failed > 0) return report_.add("robustness", name, "a write failed before the kill: " + tally->first_failure);
    if (!send("die", {})) return;
    const uint64_t killed_at = local_.clock().now_ns();
    const uint64_t bound_ns = options_.suite.timeout_ns + 5'000'000'000ull;
    uint64_t link_closed_at = 0;
    const bool ended = drive_until(
        [&] {
          if (link_closed_at == 0) {
            auto got = link_.poll();
            if (!got.ok()) link_closed_at = local_.clock().now_ns();
          }
          // Keep the NIC busy until the failure shows, then let what is in flight end.
          while (failed == 0 && in_flight < kInFlight) start_one();
          return failed > 0 && in_flight == 0;
        },
        bound_ns);
    auto ms = [&](uint64_t t) { return std::to_string((t - killed_at) / 1'000'000) + " ms"; };
    if (!ended) {
      const std::string why = failed == 0 ? "no error within " + std::to_string(bound_ns / 1'000'000) + " ms of the kill: the survivor hung"
                        : std::to_string(in_flight) + " writes still in flight " + std::to_string(bound_ns / 1'000'000) +
                              " ms after the kill";
      report_.add("robustness", name, why + engine_progress());
    } else {
      Check c;
      c.group = "robustness";
      c.name = name;
      c.outcome = Outcome::kPass;
      c.detail = "first failure after " + ms(tally->failed_at) + ": " + tally->first_failure +
                 (link_closed_at ? "; link closed after " + ms(link_closed_at) : "");
      report_.checks.push_back(c);
    }
  }

  Provider& local_;
  PeerLink& link_;
  bool server_;
  PeerOptions options_;
  Driver driver_;
  uint64_t link_timeout_ns_;
  Report report_;
  std::string link_error_;
  std::vector<RailCaps> peer_caps_;
  // Declared in this order so that the engine goes first, then its memory and exchange.
  std::unique_ptr<TcpExchange> exchange_;
  std::vector<uint8_t> engine_buffer_;
  std::unique_ptr<Engine> engine_;
  RemoteRegion server_region_;
};

}  // namespace

Report run_peer(Provider& local, PeerLink& link, PeerRole role, const PeerOptions& options) {
  return PeerSuite(local, link, role, options).run();
}

}  // namespace ferry::qualify
