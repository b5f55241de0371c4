// Setting up: what connect() accepts, what regions, endpoints and devices report, and
// which memory and endpoint kinds a device refuses, with a clear error.
#include "transport/conformance/env.h"
#include "transport/conformance/registry.h"

namespace ferry::conformance {
namespace {

bool offers(const DeviceAttributes& attributes, EndpointKind kind) {
  return kind == EndpointKind::kRc ? attributes.ordered : attributes.unordered;
}

void expect_endpoint_works(Env& env, Ep& a) {
  Buffer& src = env.source(0, 256);
  Buffer& dst = env.buffer(1, 256);
  post_ok(a, {write_op(1, {src.sge(0, 256)}, dst, 0)});
  expect_completion(env.wait_send(a)[0], a, 1, CompletionKind::kWrite);
  dst.expect_holds(0, src, 0, 256);
}

void malformed_address(Env& env) {
  Ep& a = env.endpoint(0, default_config(env.kind()));
  Ep& b = env.endpoint(1, default_config(env.kind()));
  const std::vector<uint8_t> good = b->address();
  expect(!good.empty(), "address() is empty");
  std::vector<uint8_t> garbage(good.size()), big(1024), longer = good;
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = pattern_byte(0xBAD, i);
  for (size_t i = 0; i < big.size(); ++i) big[i] = pattern_byte(0xB16, i);
  longer.push_back(0x5A);
  const std::pair<const char*, std::vector<uint8_t>> blobs[] = {
      {"an empty address", {}},
      {"an address one byte short", std::vector<uint8_t>(good.begin(), good.end() - 1)},
      {"an address one byte long", longer},
      {"an address of all 0xff", std::vector<uint8_t>(good.size(), 0xFF)},
      {"garbage of the right size", garbage},
      {"1 KiB of garbage", big},
  };
  for (const auto& [what, blob] : blobs) {
    auto r = a->connect(blob);
    expect(!r.ok(), std::string("connect() accepted ") + what);
    expect(!r.error().message.empty(), std::string("connect() refused ") + what + " without saying why");
    expect(a->state() == EndpointState::kInit, std::string("a refused connect() changed the state (") + what + ")");
  }
  // The endpoint is still usable, and connects once.
  Env::connect(a, b);
  expect(!a->connect(good).ok(), "a second connect() of a connected endpoint was accepted");
  expect_endpoint_works(env, a);
}

// The address of an endpoint that no longer exists: refused where the fabric can tell
// (emu, sim: not found); a real NIC cannot, and then nothing may ever succeed on it.
void unknown_address(Env& env) {
  EndpointConfig config = default_config(env.kind());
  config.retry_count = 2;
  config.retry_timeout_ns = 1'000'000;
  Ep& a = env.endpoint(0, config);
  Ep& gone = env.endpoint(1, config);
  const std::vector<uint8_t> address = gone->address();
  env.destroy(gone);
  auto r = a->connect(address);
  if (!r.ok()) {
    expect(a->state() == EndpointState::kInit, "a refused connect() changed the state");
    return;
  }
  Buffer& src = env.source(0, 256);
  Buffer& dst = env.buffer(1, 256);
  post_ok(a, {write_op(1, {src.sge(0, 256)}, dst, 0)});
  const Completion c = env.wait_send(a)[0];
  expect(c.status != Status::kSuccess, "a write to the address of a destroyed endpoint succeeded: " + describe(c));
  dst.expect_untouched();
}

void other_kind_address(Env& env) {
  const EndpointKind other = env.rc() ? EndpointKind::kSrd : EndpointKind::kRc;
  if (!offers(env.attributes(1), other)) {
    skip(std::string("the device offers no ") + to_string(other) + " endpoints to take an address from");
  }
  Ep& a = env.endpoint(0, default_config(env.kind()));
  Ep& b = env.endpoint(1, default_config(other));
  expect(!a->connect(b->address()).ok(), std::string("a ") + to_string(env.kind()) + " endpoint accepted the address of a " +
                                             to_string(other) + " endpoint");
  expect(a->state() == EndpointState::kInit, "a refused connect() changed the state");
}

void unsupported_endpoint_kind(Env& env) {
  const EndpointKind other = env.rc() ? EndpointKind::kSrd : EndpointKind::kRc;
  if (offers(env.attributes(0), other)) skip(std::string("the device offers ") + to_string(other) + " endpoints too");
  CompletionQueue& cq = env.completion_queue(0, 16);
  EndpointConfig config = default_config(other);
  config.send_cq = config.recv_cq = &cq;
  auto endpoint = env.pd(0).create_endpoint(config);
  expect(!endpoint.ok(), std::string("the device created a ") + to_string(other) + " endpoint it says it lacks");
  expect(endpoint.error().code == ErrorCode::kUnsupported, "should be unsupported: " + endpoint.error().to_string());
}

void host_memory(Env& env) {
  Buffer& buf = env.buffer(0, 1000, kAccessLocalWrite | kAccessRemoteRead);
  MemoryRegion& region = *buf.region();
  expect(region.addr() == buf.data(), "addr() is not the registered address");
  expect(region.length() == 1000, "length() is " + std::to_string(region.length()) + ", not 1000");
  expect(region.access() == uint32_t{kAccessLocalWrite | kAccessRemoteRead}, "access() differs from the registered rights");
  expect(region.memory_kind() == env.nodes().memory, "memory_kind() is not the kind registered");
  buf.expect_untouched();
  Pair p = env.pair();
  expect(p.a->kind() == env.kind(), "endpoint kind() differs from its config");
  expect(p.a->state() == EndpointState::kReady && p.b->state() == EndpointState::kReady, "connected endpoints should be ready");
  expect(p.a->id() != p.b->id() || env.nodes().a != env.nodes().b, "two endpoints of one node share an id");
  expect(!env.attributes(0).name.empty(), "the device has no name");
  expect(offers(env.attributes(0), env.kind()), std::string("the device does not say it offers ") + to_string(env.kind()));
}

// Device memory: refused with a clear error where unsupported; where registered, the
// region says so.
void device_memory(Env& env) {
  std::vector<uint8_t> memory(4096);
  auto region = env.pd(0).register_memory(memory.data(), memory.size(), kAllAccess, MemoryKind::kDevice);
  if (!region.ok()) {
    expect(region.error().code == ErrorCode::kUnsupported || region.error().code == ErrorCode::kInvalidArgument,
           "device memory refused with an unexpected code: " + region.error().to_string());
    expect(!region.error().message.empty(), "device memory refused without saying why");
    return;
  }
  expect((*region)->memory_kind() == MemoryKind::kDevice, "a device-memory region reports another kind");
}

}  // namespace

void add_setup_checks(std::vector<Check>& out) {
  out.push_back({"address/malformed", "connect() refuses empty, short, long and garbage addresses with a reason, stays in init, then connects once", malformed_address});
  out.push_back({"address/unknown", "the address of a destroyed endpoint is refused, or (where a NIC cannot tell) nothing succeeds on it", unknown_address});
  out.push_back({"address/other-kind", "an endpoint refuses the address of an endpoint of the other kind", other_kind_address});
  out.push_back({"endpoint/unsupported-kind", "creating an endpoint of a kind the device lacks fails as unsupported", unsupported_endpoint_kind});
  out.push_back({"memory/host", "a host region reports its address, length, rights and kind; endpoints their kind, state and ids", host_memory});
  out.push_back({"memory/device", "device memory is refused with a clear error where unsupported, else reported as device memory", device_memory});
}

}  // namespace ferry::conformance
