// For the tcp provider's own tests: one side's objects (a provider with one endpoint),
// the byte pattern, work requests and bounded waits on completions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "transport/provider.h"
#include "transport/tcp/tcp_provider.h"

namespace ferry::tcp::testing {

inline constexpr uint32_t kAllAccess = kAccessLocalWrite | kAccessRemoteWrite | kAccessRemoteRead;
inline constexpr uint64_t kTimeoutNs = 20'000'000'000;

inline uint8_t pattern(uint32_t tag, uint64_t i) { return static_cast<uint8_t>((i * 131) ^ (i >> 9) ^ (tag * 77)); }

inline std::vector<uint8_t> patterned(uint32_t tag, size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = pattern(tag, i);
  return v;
}

// How many bytes of `got` from `at` differ from tag's pattern from `from`.
inline size_t mismatches(const uint8_t* got, uint32_t tag, uint64_t from, size_t n) {
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) wrong += got[i] != pattern(tag, from + i);
  return wrong;
}

// A provider, a domain, one queue for everything and one endpoint; destroyed in reverse.
// Declare the memory it registers before it: regions go before their memory.
struct Side {
  std::unique_ptr<Provider> provider;
  std::unique_ptr<ProtectionDomain> pd;
  std::unique_ptr<CompletionQueue> cq;
  std::vector<std::unique_ptr<MemoryRegion>> regions;
  std::unique_ptr<Endpoint> ep;

  // Registers [data, +n) with every right; its key.
  uint32_t add(void* data, size_t n) {
    auto mr = pd->register_memory(data, n, kAllAccess, MemoryKind::kHost);
    if (!mr.ok()) return 0;
    regions.push_back(std::move(mr).value());
    return regions.back()->lkey();
  }
};

// Opens a side on `provider` (a fresh one when null); false on any error.
inline bool open_side(Side& s, const TcpOptions& options = {}, EndpointConfig config = {},
                      std::unique_ptr<Provider> provider = nullptr) {
  if (provider == nullptr) {
    auto opened = open_provider(options);
    if (!opened.ok()) return false;
    provider = std::move(opened).value();
  }
  s.provider = std::move(provider);
  auto pd = s.provider->device(0).create_protection_domain();
  auto cq = s.provider->device(0).create_completion_queue(1024);
  if (!pd.ok() || !cq.ok()) return false;
  s.pd = std::move(pd).value();
  s.cq = std::move(cq).value();
  config.send_cq = config.recv_cq = s.cq.get();
  auto ep = s.pd->create_endpoint(config);
  if (!ep.ok()) return false;
  s.ep = std::move(ep).value();
  return true;
}

inline WorkRequest request(Opcode opcode, uint64_t cookie, const std::vector<Sge>& list, uint64_t remote_addr = 0,
                           uint32_t rkey = 0, uint32_t imm = 0) {
  WorkRequest wr;
  wr.opcode = opcode;
  wr.cookie = cookie;
  wr.sg_list = list.data();
  wr.num_sge = static_cast<uint32_t>(list.size());
  wr.remote_addr = remote_addr;
  wr.rkey = rkey;
  wr.imm = imm;
  return wr;
}

inline Sge sge(const void* data, uint64_t length, uint32_t key) {
  return Sge{reinterpret_cast<uint64_t>(data), static_cast<uint32_t>(length), key};
}

// The next `count` completions of `cq`; fewer when the timeout passed first.
inline std::vector<Completion> wait(CompletionQueue& cq, size_t count = 1) {
  const SteadyClock clock;
  const uint64_t deadline = clock.now_ns() + kTimeoutNs;
  std::vector<Completion> got;
  Completion c;
  while (got.size() < count && clock.now_ns() < deadline) {
    auto n = cq.poll({&c, 1});
    if (!n.ok()) break;
    if (*n == 1) got.push_back(c);
  }
  return got;
}

}  // namespace ferry::tcp::testing
