// The null provider's objects. Nothing is shared between providers and nothing runs in
// the background, so a provider needs no lock: one thread drives it, as the engine does.
#include <optional>
#include <string>
#include <utility>

#include "transport/null/null_provider.h"
#include "transport/provider_support/completion_ring.h"
#include "transport/provider_support/endpoint_address.h"
#include "transport/provider_support/memory_registration.h"
#include "transport/provider_support/work_request_checks.h"

namespace ferry::null {
namespace {

constexpr uint32_t kAddressMagic = 0x4c554e46;  // "FNUL"

class NullCompletionQueue final : public CompletionQueue {
 public:
  explicit NullCompletionQueue(uint32_t depth) : ring_(depth) {}
  Result<size_t> poll(std::span<Completion> out) override { return ring_.poll(out); }
  uint32_t depth() const override { return ring_.depth(); }
  bool push(const Completion& c) { return ring_.push(c); }

 private:
  CompletionRing ring_;
};

class NullEndpoint final : public Endpoint {
 public:
  NullEndpoint(const EndpointConfig& config, const DeviceAttributes& attributes, uint32_t id, uint32_t node,
               uint32_t nic, uint64_t& posted)
      : config_(config), attributes_(attributes), id_(id), node_(node), nic_(nic), posted_(posted) {}

  EndpointKind kind() const override { return config_.kind; }
  EndpointState state() const override { return state_; }
  uint32_t id() const override { return id_; }
  std::vector<uint8_t> address() const override {
    return encode_address(kAddressMagic, config_.kind, id_, node_, nic_);
  }

  VoidResult connect(std::span<const uint8_t> peer_address) override {
    if (state_ != EndpointState::kInit) {
      return make_error(ErrorCode::kFailedPrecondition, std::string("null: connect on an endpoint in state ") +
                                                            to_string(state_) + " (only once, from init)");
    }
    auto decoded = decode_address(peer_address, kAddressMagic, "null", config_.kind);
    if (!decoded.ok()) return decoded.error();
    state_ = EndpointState::kReady;
    return {};
  }

  // Each request is done as it is posted: its send-queue slot is free again at once, so
  // the queue never fills.
  VoidResult post_send(std::span<const WorkRequest> requests, size_t* bad_index) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      const WorkRequest& wr = requests[i];
      if (auto refused = refuse_post(i, bad_index)) return *refused;
      if (auto bad = check_send_request(wr, attributes_, 0, config_.max_send_wr)) {
        if (bad_index) *bad_index = i;
        return make_error(bad->code, "work request " + std::to_string(i) + ": " + bad->message);
      }
      ++posted_;
      const bool flushed = state_ == EndpointState::kError;
      if (!flushed && !wr.signaled) continue;
      Completion c;
      c.cookie = wr.cookie;
      c.status = flushed ? Status::kFlushed : Status::kSuccess;
      c.kind = local_kind(wr.opcode);
      c.endpoint_id = id_;
      for (uint32_t s = 0; s < wr.num_sge; ++s) c.byte_len += wr.sg_list[s].length;
      complete(send_cq(), c);
    }
    return {};
  }

  // Posted recvs wait for ever: nothing ever lands. They come back flushed on set_error.
  VoidResult post_recv(std::span<const RecvRequest> requests, size_t* bad_index) override {
    for (size_t i = 0; i < requests.size(); ++i) {
      if (auto refused = refuse_post(i, bad_index)) return *refused;
      std::optional<Error> bad = check_recv_request(requests[i], attributes_);
      if (!bad && state_ != EndpointState::kError && recvs_.size() >= config_.max_recv_wr) {
        bad = make_error(ErrorCode::kResourceExhausted,
                         "recv queue full (" + std::to_string(config_.max_recv_wr) + " posted)");
      }
      if (bad) {
        if (bad_index) *bad_index = i;
        return make_error(bad->code, "recv request " + std::to_string(i) + ": " + bad->message);
      }
      if (state_ == EndpointState::kError) {
        flush_recv(requests[i].cookie);
      } else {
        recvs_.push_back(requests[i].cookie);
      }
    }
    return {};
  }

  void set_error() override {
    if (state_ == EndpointState::kError) return;
    state_ = EndpointState::kError;
    for (uint64_t cookie : recvs_) flush_recv(cookie);
    recvs_.clear();
  }

 private:
  NullCompletionQueue& send_cq() { return static_cast<NullCompletionQueue&>(*config_.send_cq); }
  NullCompletionQueue& recv_cq() { return static_cast<NullCompletionQueue&>(*config_.recv_cq); }

  std::optional<Error> refuse_post(size_t i, size_t* bad_index) const {
    if (state_ != EndpointState::kInit) return std::nullopt;
    if (bad_index) *bad_index = i;
    return make_error(ErrorCode::kFailedPrecondition, "null: post before connect()");
  }

  void flush_recv(uint64_t cookie) {
    Completion c;
    c.cookie = cookie;
    c.status = Status::kFlushed;
    c.kind = CompletionKind::kRecv;
    c.endpoint_id = id_;
    complete(recv_cq(), c);
  }

  // A completion that does not fit is lost: the queue reports it from then on, and this
  // endpoint, which can no longer report its work, is in error (the contract's rule).
  void complete(NullCompletionQueue& cq, const Completion& c) {
    if (!cq.push(c)) state_ = EndpointState::kError;
  }

  const EndpointConfig config_;
  const DeviceAttributes& attributes_;
  const uint32_t id_;
  const uint32_t node_;
  const uint32_t nic_;
  uint64_t& posted_;  // the provider's count
  EndpointState state_ = EndpointState::kInit;
  std::vector<uint64_t> recvs_;
};

class NullDevice;

class NullDomain final : public ProtectionDomain {
 public:
  explicit NullDomain(NullDevice& device) : device_(device) {}
  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, size_t length, uint32_t access,
                                                        MemoryKind kind) override;
  Result<std::unique_ptr<Endpoint>> create_endpoint(const EndpointConfig& config) override;

 private:
  NullDevice& device_;
};

class NullDevice final : public Device {
 public:
  NullDevice(uint32_t node, uint32_t nic, double gbps, uint64_t& posted) : node_(node), nic_(nic), posted_(posted) {
    attributes_.name = "null:n" + std::to_string(node) + "/nic" + std::to_string(nic);
    attributes_.vendor = "ferry-null";
    attributes_.link_gbps = gbps;
    attributes_.ordered = true;
    attributes_.unordered = true;
  }

  const DeviceAttributes& attributes() const override { return attributes_; }
  Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() override {
    return std::unique_ptr<ProtectionDomain>(std::make_unique<NullDomain>(*this));
  }
  Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) override {
    if (depth == 0 || depth > attributes_.max_cqe) {
      return make_error(ErrorCode::kOutOfRange, "completion queue depth " + std::to_string(depth) +
                                                    " outside [1, " + std::to_string(attributes_.max_cqe) + "]");
    }
    return std::unique_ptr<CompletionQueue>(std::make_unique<NullCompletionQueue>(depth));
  }

  // Keys name nothing (no request is checked against them); distinct ones keep the
  // regions apart in logs.
  uint32_t next_key() { return ++keys_; }
  uint32_t next_endpoint_id() { return ++endpoints_; }
  uint32_t node() const { return node_; }
  uint32_t nic() const { return nic_; }
  uint64_t& posted() { return posted_; }

 private:
  DeviceAttributes attributes_;
  const uint32_t node_;
  const uint32_t nic_;
  uint64_t& posted_;
  uint32_t keys_ = 0;
  uint32_t endpoints_ = 0;
};

Result<std::unique_ptr<MemoryRegion>> NullDomain::register_memory(void* addr, size_t length, uint32_t access,
                                                                  MemoryKind kind) {
  if (auto ok = check_registration(addr, length, access, kind, "null"); !ok.ok()) return ok.error();
  return std::unique_ptr<MemoryRegion>(
      std::make_unique<KeyedMemoryRegion>(addr, length, access, device_.next_key(), kind, [](uint32_t) {}));
}

Result<std::unique_ptr<Endpoint>> NullDomain::create_endpoint(const EndpointConfig& config) {
  const DeviceAttributes& attr = device_.attributes();
  if (config.send_cq == nullptr || config.recv_cq == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "null: an endpoint needs a send and a recv completion queue");
  }
  if (config.max_send_wr == 0 || config.max_send_wr > attr.max_send_wr || config.max_recv_wr == 0 ||
      config.max_recv_wr > attr.max_recv_wr) {
    return make_error(ErrorCode::kOutOfRange, "null: max_send_wr and max_recv_wr must be in [1, " +
                                                  std::to_string(attr.max_send_wr) + "] and [1, " +
                                                  std::to_string(attr.max_recv_wr) + "]");
  }
  return std::unique_ptr<Endpoint>(
      std::make_unique<NullEndpoint>(config, attr, device_.next_endpoint_id(), device_.node(), device_.nic(),
                                     device_.posted()));
}

class NullProvider final : public Provider {
 public:
  NullProvider(uint32_t node, const std::vector<double>& nic_gbps) {
    for (size_t i = 0; i < nic_gbps.size(); ++i) {
      devices_.push_back(std::make_unique<NullDevice>(node, static_cast<uint32_t>(i), nic_gbps[i], posted_));
    }
  }
  const char* name() const override { return "null"; }
  size_t device_count() const override { return devices_.size(); }
  Device& device(size_t index) override { return *devices_.at(index); }
  const Clock& clock() const override { return clock_; }
  bool progress() override { return false; }  // everything happened at post time
  uint64_t posted() const { return posted_; }

 private:
  uint64_t posted_ = 0;  // before the devices, which refer to it
  std::vector<std::unique_ptr<NullDevice>> devices_;
  SteadyClock clock_;
};

}  // namespace

Result<uint64_t> requests_posted(const Provider& provider) {
  const auto* null_provider = dynamic_cast<const NullProvider*>(&provider);
  if (null_provider == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("requests_posted: a provider of '") + provider.name() + "', not of 'null'");
  }
  return null_provider->posted();
}

std::unique_ptr<Provider> open_provider(uint32_t node, const std::vector<double>& nic_gbps) {
  return std::make_unique<NullProvider>(node, nic_gbps);
}

}  // namespace ferry::null
