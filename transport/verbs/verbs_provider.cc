#include "transport/verbs/verbs_provider.h"

#include <arpa/inet.h>
#include <infiniband/efadv.h>
#include <infiniband/verbs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "transport/gpu/runtime.h"
#include "transport/provider_support/memory_registration.h"
#include "transport/provider_support/work_request_checks.h"

namespace ferry::verbs {
namespace {

// ferry's Sge is laid out as ibv_sge, so lists go to the NIC without conversion.
static_assert(sizeof(Sge) == sizeof(ibv_sge));
static_assert(offsetof(Sge, addr) == offsetof(ibv_sge, addr));
static_assert(offsetof(Sge, length) == offsetof(ibv_sge, length));
static_assert(offsetof(Sge, lkey) == offsetof(ibv_sge, lkey));

constexpr uint32_t kAddressMagic = 0x53425646;  // "FVBS"
constexpr uint8_t kAddressVersion = 1;
constexpr uint32_t kSrdQkey = 0x11111111;
constexpr size_t kPostChunk = 64;

// What a peer needs to reach one of our queue pairs.
struct Address {
  uint32_t magic;
  uint8_t version;
  uint8_t kind;  // EndpointKind
  uint8_t mtu;   // ibv_mtu of the sender's port
  uint8_t port;
  uint32_t qpn;
  uint32_t psn;
  uint16_t lid;
  uint16_t reserved;
  uint8_t gid[16];
};
static_assert(sizeof(Address) == 36);

Error errno_error(ErrorCode code, const std::string& what, int err) {
  return make_error(code, what + ": " + std::strerror(err));
}

uint32_t ibv_access(uint32_t access) {
  uint32_t flags = 0;
  if (access & kAccessLocalWrite) flags |= IBV_ACCESS_LOCAL_WRITE;
  if (access & kAccessRemoteWrite) flags |= IBV_ACCESS_REMOTE_WRITE;
  if (access & kAccessRemoteRead) flags |= IBV_ACCESS_REMOTE_READ;
  return flags;
}

double port_gbps(const ibv_port_attr& port) {
  double lane = 0;
  switch (port.active_speed) {
    case 1: lane = 2.5; break;
    case 2: lane = 5; break;
    case 4: lane = 10; break;
    case 8: lane = 10.3125; break;
    case 16: lane = 14.0625; break;
    case 32: lane = 25.78125; break;
    case 64: lane = 53.125; break;
    case 128: lane = 106.25; break;
    default: lane = 10; break;
  }
  int lanes = 1;
  switch (port.active_width) {
    case 1: lanes = 1; break;
    case 2: lanes = 4; break;
    case 4: lanes = 8; break;
    case 8: lanes = 12; break;
    case 16: lanes = 2; break;
    default: lanes = 1; break;
  }
  return lane * lanes;
}

uint32_t mtu_bytes(ibv_mtu mtu) { return 128u << static_cast<int>(mtu); }

// The IB encoding of the minimal RNR NAK timer: the smallest code that waits at least
// `ns` (code 0 means 655.36 ms, the longest).
uint8_t rnr_timer_code(uint64_t ns) {
  static constexpr uint32_t kMicros[32] = {655360, 10,   20,   30,   40,    60,    80,    120,
                                           160,    240,  320,  480,  640,   960,   1280,  1920,
                                           2560,   3840, 5120, 7680, 10240, 15360, 20480, 30720,
                                           40960,  61440, 81920, 122880, 163840, 245760, 327680, 491520};
  const uint64_t us = (ns + 999) / 1000;
  for (uint8_t code = 1; code < 32; ++code) {
    if (kMicros[code] >= us) return code;
  }
  return 0;
}

// The IB encoding of the transport timeout: 4.096 µs × 2^code, at least `ns`.
uint8_t timeout_code(uint64_t ns) {
  uint8_t code = 1;
  while (code < 31 && (4096ull << code) < ns) ++code;
  return code;
}

CompletionKind kind_from_ibv(ibv_wc_opcode op) {
  switch (op) {
    case IBV_WC_RDMA_WRITE: return CompletionKind::kWrite;
    case IBV_WC_RDMA_READ: return CompletionKind::kRead;
    case IBV_WC_SEND: return CompletionKind::kSend;
    case IBV_WC_RECV_RDMA_WITH_IMM: return CompletionKind::kRecvWriteWithImm;
    default: return CompletionKind::kRecv;
  }
}

int numa_node_of(const char* device_name) {
  std::ifstream in(std::string("/sys/class/infiniband/") + device_name + "/device/numa_node");
  int node = -1;
  if (in >> node) return node;
  return -1;
}

class VerbsDevice;

class VerbsCompletionQueue final : public CompletionQueue {
 public:
  VerbsCompletionQueue(ibv_cq* cq, uint32_t depth) : cq_(cq), depth_(depth) {}
  ~VerbsCompletionQueue() override { ibv_destroy_cq(cq_); }
  Result<size_t> poll(std::span<Completion> out) override {
    ibv_wc wc[kPostChunk];
    const int want = static_cast<int>(std::min(out.size(), kPostChunk));
    const int n = ibv_poll_cq(cq_, want, wc);
    if (n < 0) return make_error(ErrorCode::kUnavailable, "ibv_poll_cq failed (completion queue in error, overrun?)");
    for (int i = 0; i < n; ++i) {
      Completion& c = out[i];
      c.cookie = wc[i].wr_id;
      c.status = status_from_ibv(wc[i].status);
      // verbs defines the opcode of successful completions only.
      c.kind = wc[i].status == IBV_WC_SUCCESS ? kind_from_ibv(wc[i].opcode) : CompletionKind::kRecv;
      c.byte_len = wc[i].byte_len;
      c.has_imm = (wc[i].wc_flags & IBV_WC_WITH_IMM) != 0;
      c.imm = c.has_imm ? ntohl(wc[i].imm_data) : 0;
      c.endpoint_id = wc[i].qp_num;
    }
    return static_cast<size_t>(n);
  }
  uint32_t depth() const override { return depth_; }
  ibv_cq* get() const { return cq_; }

 private:
  ibv_cq* cq_;
  uint32_t depth_;
};

class VerbsMemoryRegion final : public MemoryRegion {
 public:
  VerbsMemoryRegion(ibv_mr* mr, uint32_t access, MemoryKind kind, void* addr)
      : mr_(mr), access_(access), kind_(kind), addr_(addr) {}
  ~VerbsMemoryRegion() override { ibv_dereg_mr(mr_); }
  void* addr() const override { return addr_; }
  size_t length() const override { return mr_->length; }
  uint32_t lkey() const override { return mr_->lkey; }
  uint32_t rkey() const override { return mr_->rkey; }
  uint32_t access() const override { return access_; }
  MemoryKind memory_kind() const override { return kind_; }

 private:
  ibv_mr* mr_;
  uint32_t access_;
  MemoryKind kind_;
  void* addr_;
};

// GPU memory for the NIC to read and write directly (GPUDirect RDMA): through a dmabuf
// the CUDA driver exports (ibv_reg_dmabuf_mr; kernel 5.12+, an open GPU kernel module),
// else through the peer-memory path (ibv_reg_mr on the GPU address, with nvidia-peermem
// loaded). The error names why each way failed.
Result<ibv_mr*> register_gpu_memory(ibv_pd* pd, const std::string& device, void* addr, size_t length, int access) {
  // The driver exports whole host pages; the region starts `offset` bytes into them, and
  // its I/O virtual address is the GPU address, so peers address it as they would host
  // memory.
  const auto begin = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t aligned = begin & ~(page - 1);
  const size_t span = ((begin + length + page - 1) & ~(page - 1)) - aligned;
  std::string dmabuf_reason;
  auto fd = gpu::dmabuf_fd(reinterpret_cast<void*>(aligned), span);
  if (fd.ok()) {
    ibv_mr* mr = ibv_reg_dmabuf_mr(pd, begin - aligned, length, begin, *fd, access);
    const int err = errno;
    close(*fd);
    if (mr != nullptr) return mr;
    dmabuf_reason = std::string("ibv_reg_dmabuf_mr: ") + std::strerror(err);
  } else {
    dmabuf_reason = fd.error().message;
  }
  ibv_mr* mr = ibv_reg_mr(pd, addr, length, access);
  if (mr != nullptr) return mr;
  const int err = errno;
  return make_error(ErrorCode::kUnsupported, device + " cannot register GPU memory: dmabuf: " + dmabuf_reason +
                                                 "; peer memory: ibv_reg_mr: " + std::strerror(err) +
                                                 " (is nvidia-peermem loaded?)");
}

class VerbsDevice final : public Device {
 public:
  VerbsDevice(ibv_context* context, bool owns_context, uint8_t port, const VerbsOptions& options)
      : context_(context), owns_context_(owns_context), port_(port), options_(options) {}
  ~VerbsDevice() override {
    if (owns_context_) ibv_close_device(context_);
  }

  VoidResult init();
  const DeviceAttributes& attributes() const override { return attributes_; }
  Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() override;
  Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) override {
    if (depth == 0 || depth > attributes_.max_cqe) {
      return make_error(ErrorCode::kOutOfRange, "completion queue depth " + std::to_string(depth) +
                                                    " is not in [1, " + std::to_string(attributes_.max_cqe) + "]");
    }
    ibv_cq* cq = ibv_create_cq(context_, static_cast<int>(depth), nullptr, nullptr, 0);
    if (cq == nullptr) return errno_error(ErrorCode::kResourceExhausted, "ibv_create_cq", errno);
    return std::unique_ptr<CompletionQueue>(std::make_unique<VerbsCompletionQueue>(cq, depth));
  }

  ibv_context* context() const { return context_; }
  uint8_t port() const { return port_; }
  bool efa() const { return efa_; }
  ibv_mtu active_mtu() const { return active_mtu_; }
  uint16_t lid() const { return lid_; }
  int gid_index() const { return gid_index_; }
  const ibv_gid& gid() const { return gid_; }
  const VerbsOptions& options() const { return options_; }
  uint32_t max_rd_atomic() const { return max_rd_atomic_; }
  uint32_t max_inline() const { return max_inline_; }

 private:
  ibv_context* context_;
  bool owns_context_;
  uint8_t port_;
  VerbsOptions options_;
  DeviceAttributes attributes_;
  bool efa_ = false;
  uint32_t max_inline_ = 0;
  ibv_mtu active_mtu_ = IBV_MTU_1024;
  uint16_t lid_ = 0;
  int gid_index_ = 0;
  ibv_gid gid_{};
  uint32_t max_rd_atomic_ = 1;
};

// Chooses the GID: the configured index, else RoCE v2 with an IPv4-mapped address, else
// any RoCE v2, else index 0 (InfiniBand, where the LID routes).
int choose_gid(ibv_context* context, uint8_t port, int wanted) {
  if (wanted >= 0) return wanted;
  std::vector<ibv_gid_entry> entries(256);
  const ssize_t n = ibv_query_gid_table(context, entries.data(), entries.size(), 0);
  int any_v2 = -1;
  for (ssize_t i = 0; i < n; ++i) {
    const ibv_gid_entry& e = entries[i];
    if (e.port_num != port || e.gid_type != IBV_GID_TYPE_ROCE_V2) continue;
    const uint8_t* raw = e.gid.raw;
    const bool ipv4_mapped = std::all_of(raw, raw + 10, [](uint8_t b) { return b == 0; }) &&
                             raw[10] == 0xff && raw[11] == 0xff;
    if (ipv4_mapped) return static_cast<int>(e.gid_index);
    if (any_v2 < 0) any_v2 = static_cast<int>(e.gid_index);
  }
  return any_v2 >= 0 ? any_v2 : 0;
}

VoidResult VerbsDevice::init() {
  ibv_device_attr device{};
  if (int err = ibv_query_device(context_, &device)) return errno_error(ErrorCode::kUnavailable, "ibv_query_device", err);
  ibv_port_attr port{};
  if (int err = ibv_query_port(context_, port_, &port)) return errno_error(ErrorCode::kUnavailable, "ibv_query_port", err);
  const char* name = ibv_get_device_name(context_->device);
  efadv_device_attr efa{};
  efa_ = efadv_query_device(context_, &efa, sizeof(efa)) == 0;
  max_inline_ = efa_ ? std::min<uint32_t>(options_.max_inline, efa.inline_buf_size) : options_.max_inline;

  active_mtu_ = port.active_mtu;
  lid_ = port.lid;
  gid_index_ = efa_ ? 0 : choose_gid(context_, port_, options_.gid_index);
  if (int err = ibv_query_gid(context_, port_, gid_index_, &gid_)) {
    return errno_error(ErrorCode::kUnavailable, "ibv_query_gid", err);
  }
  max_rd_atomic_ = std::max(1, std::min(16, device.max_qp_rd_atom));

  attributes_.name = std::string(name) + ":" + std::to_string(port_);
  char vendor[32];
  std::snprintf(vendor, sizeof vendor, "vendor 0x%x", device.vendor_id);
  attributes_.vendor = device.vendor_id == 0x02c9 ? "Mellanox" : device.vendor_id == 0x1d0f ? "Amazon" : vendor;
  attributes_.ports = device.phys_port_cnt;
  attributes_.link_gbps = port_gbps(port);
  attributes_.mtu = mtu_bytes(port.active_mtu);
  attributes_.max_sge = static_cast<uint32_t>(std::min(device.max_sge, 32));
  attributes_.max_send_wr = static_cast<uint32_t>(device.max_qp_wr);
  attributes_.max_recv_wr = static_cast<uint32_t>(device.max_qp_wr);
  attributes_.max_cqe = static_cast<uint32_t>(device.max_cqe);
  attributes_.max_message_bytes = port.max_msg_sz;
  attributes_.numa_node = numa_node_of(name);
  if (efa_) {
    // SRD only; RDMA read and write exist on newer EFA devices and are reported by caps
    // (bit 0 read; bit 3 write on rdma-core versions that define it).
    attributes_.ordered = false;
    attributes_.unordered = true;
    attributes_.supports_rdma_read = (efa.device_caps & EFADV_DEVICE_ATTR_CAPS_RDMA_READ) != 0;
    attributes_.supports_write_with_imm = (efa.device_caps & (1u << 3)) != 0;
    attributes_.max_sge = std::min<uint32_t>(attributes_.max_sge, efa.max_sq_sge);
    attributes_.max_message_bytes = efa.max_rdma_size ? efa.max_rdma_size : attributes_.max_message_bytes;
  } else {
    attributes_.ordered = true;
    attributes_.unordered = false;
  }
  if (port.state != IBV_PORT_ACTIVE) {
    return make_error(ErrorCode::kUnavailable, attributes_.name + " port is not active (state " +
                                                   std::to_string(port.state) + ")");
  }
  return {};
}

// ---------------------------------------------------------------------------------
// Endpoints

class VerbsEndpointBase : public Endpoint {
 public:
  VerbsEndpointBase(VerbsDevice& device, const EndpointConfig& config, ibv_qp* qp, uint32_t psn)
      : device_(device), config_(config), qp_(qp), psn_(psn) {}
  ~VerbsEndpointBase() override { ibv_destroy_qp(qp_); }

  EndpointKind kind() const override { return config_.kind; }
  // A QP that completed a request in error moves itself to the error state (as the NIC
  // sees it, not as this object last set it): ask the QP while it should be ready.
  EndpointState state() const override {
    if (state_ == EndpointState::kReady) {
      ibv_qp_attr attr{};
      ibv_qp_init_attr init{};
      if (ibv_query_qp(qp_, &attr, IBV_QP_STATE, &init) == 0 && attr.qp_state == IBV_QPS_ERR) {
        state_ = EndpointState::kError;
      }
    }
    return state_;
  }
  uint32_t id() const override { return qp_->qp_num; }

  std::vector<uint8_t> address() const override {
    Address a{};
    a.magic = kAddressMagic;
    a.version = kAddressVersion;
    a.kind = static_cast<uint8_t>(config_.kind);
    a.mtu = static_cast<uint8_t>(device_.active_mtu());
    a.port = device_.port();
    a.qpn = qp_->qp_num;
    a.psn = psn_;
    a.lid = device_.lid();
    std::memcpy(a.gid, device_.gid().raw, 16);
    std::vector<uint8_t> bytes(sizeof a);
    std::memcpy(bytes.data(), &a, sizeof a);
    return bytes;
  }

  VoidResult post_recv(std::span<const RecvRequest> requests, size_t* bad_index) override {
    if (state_ == EndpointState::kInit) {
      if (bad_index) *bad_index = 0;
      return make_error(ErrorCode::kFailedPrecondition, "post_recv before connect()");
    }
    ibv_recv_wr wrs[kPostChunk];
    for (size_t base = 0; base < requests.size(); base += kPostChunk) {
      size_t n = std::min(kPostChunk, requests.size() - base);
      std::optional<Error> malformed;
      for (size_t i = 0; i < n && !malformed; ++i) {
        if ((malformed = check_recv_request(requests[base + i], device_.attributes()))) {
          malformed->message = "recv request " + std::to_string(base + i) + ": " + malformed->message;
          n = i;
        }
      }
      for (size_t i = 0; i < n; ++i) {
        const RecvRequest& r = requests[base + i];
        wrs[i] = ibv_recv_wr{};
        wrs[i].wr_id = r.cookie;
        wrs[i].sg_list = reinterpret_cast<ibv_sge*>(const_cast<Sge*>(r.sg_list));
        wrs[i].num_sge = static_cast<int>(r.num_sge);
        wrs[i].next = i + 1 < n ? &wrs[i + 1] : nullptr;
      }
      ibv_recv_wr* bad = nullptr;
      if (int err = n > 0 ? ibv_post_recv(qp_, wrs, &bad) : 0) {
        if (bad_index) *bad_index = base + static_cast<size_t>(bad - wrs);
        return errno_error(ErrorCode::kInvalidArgument, "ibv_post_recv", err);
      }
      if (malformed) {
        if (bad_index) *bad_index = base + n;
        return *malformed;
      }
    }
    return {};
  }

  void set_error() override {
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    ibv_modify_qp(qp_, &attr, IBV_QP_STATE);
    state_ = EndpointState::kError;
  }

 protected:
  VoidResult check_address(std::span<const uint8_t> bytes, Address* out) const {
    if (bytes.size() != sizeof(Address)) {
      return make_error(ErrorCode::kInvalidArgument, "verbs address must be " + std::to_string(sizeof(Address)) +
                                                         " bytes, got " + std::to_string(bytes.size()));
    }
    std::memcpy(out, bytes.data(), sizeof(Address));
    if (out->magic != kAddressMagic || out->version != kAddressVersion) {
      return make_error(ErrorCode::kInvalidArgument, "not a verbs endpoint address (bad magic or version)");
    }
    if (out->kind != static_cast<uint8_t>(config_.kind)) {
      return make_error(ErrorCode::kInvalidArgument, "the peer's endpoint is of another kind");
    }
    if (state_ != EndpointState::kInit) return make_error(ErrorCode::kFailedPrecondition, "already connected");
    return {};
  }

  VoidResult modify(ibv_qp_attr& attr, int mask, const char* step) {
    if (int err = ibv_modify_qp(qp_, &attr, mask)) {
      return errno_error(ErrorCode::kUnavailable, std::string("ibv_modify_qp to ") + step, err);
    }
    return {};
  }

  VerbsDevice& device_;
  EndpointConfig config_;
  ibv_qp* qp_;
  uint32_t psn_;
  mutable EndpointState state_ = EndpointState::kInit;  // state() learns of errors from the QP
};

class RcEndpoint final : public VerbsEndpointBase {
 public:
  using VerbsEndpointBase::VerbsEndpointBase;

  VoidResult connect(std::span<const uint8_t> peer) override {
    Address remote;
    if (auto ok = check_address(peer, &remote); !ok.ok()) return ok;
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_INIT;
    attr.pkey_index = 0;
    attr.port_num = device_.port();
    attr.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
    if (auto ok = modify(attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS, "INIT"); !ok.ok()) return ok;

    attr = ibv_qp_attr{};
    attr.qp_state = IBV_QPS_RTR;
    attr.path_mtu = std::min(device_.active_mtu(), static_cast<ibv_mtu>(remote.mtu));
    attr.dest_qp_num = remote.qpn;
    attr.rq_psn = remote.psn;
    attr.max_dest_rd_atomic = static_cast<uint8_t>(device_.max_rd_atomic());
    attr.min_rnr_timer = rnr_timer_code(config_.rnr_timer_ns);
    attr.ah_attr.dlid = remote.lid;
    attr.ah_attr.port_num = device_.port();
    const bool global = std::any_of(remote.gid, remote.gid + 16, [](uint8_t b) { return b != 0; });
    if (global) {
      attr.ah_attr.is_global = 1;
      std::memcpy(attr.ah_attr.grh.dgid.raw, remote.gid, 16);
      attr.ah_attr.grh.sgid_index = static_cast<uint8_t>(device_.gid_index());
      attr.ah_attr.grh.hop_limit = 64;
    }
    if (auto ok = modify(attr, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                   IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER,
                         "RTR");
        !ok.ok()) {
      return ok;
    }
    attr = ibv_qp_attr{};
    attr.qp_state = IBV_QPS_RTS;
    attr.timeout = timeout_code(config_.retry_timeout_ns);
    attr.retry_cnt = static_cast<uint8_t>(std::min<uint32_t>(7, config_.retry_count));
    attr.rnr_retry = static_cast<uint8_t>(std::min<uint32_t>(7, config_.rnr_retry));
    attr.sq_psn = psn_;
    attr.max_rd_atomic = static_cast<uint8_t>(device_.max_rd_atomic());
    if (auto ok = modify(attr, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                                   IBV_QP_MAX_QP_RD_ATOMIC,
                         "RTS");
        !ok.ok()) {
      return ok;
    }
    state_ = EndpointState::kReady;
    return {};
  }

  VoidResult post_send(std::span<const WorkRequest> requests, size_t* bad_index) override {
    if (state_ == EndpointState::kInit) {
      if (bad_index) *bad_index = 0;
      return make_error(ErrorCode::kFailedPrecondition, "post_send before connect()");
    }
    ibv_send_wr wrs[kPostChunk];
    for (size_t base = 0; base < requests.size(); base += kPostChunk) {
      size_t n = std::min(kPostChunk, requests.size() - base);
      // The checks every provider makes, before the list is read: a malformed request and
      // those after it are not posted, those before it are.
      std::optional<Error> malformed;
      for (size_t i = 0; i < n && !malformed; ++i) {
        if ((malformed = check_send_request(requests[base + i], device_.attributes(), 0, SIZE_MAX))) {
          malformed->message = "work request " + std::to_string(base + i) + ": " + malformed->message;
          n = i;
        }
      }
      for (size_t i = 0; i < n; ++i) {
        const WorkRequest& r = requests[base + i];
        ibv_send_wr& w = wrs[i];
        w = ibv_send_wr{};
        w.wr_id = r.cookie;
        w.sg_list = reinterpret_cast<ibv_sge*>(const_cast<Sge*>(r.sg_list));
        w.num_sge = static_cast<int>(r.num_sge);
        w.next = i + 1 < n ? &wrs[i + 1] : nullptr;
        w.send_flags = r.signaled ? IBV_SEND_SIGNALED : 0;
        uint64_t bytes = 0;
        for (uint32_t s = 0; s < r.num_sge; ++s) bytes += r.sg_list[s].length;
        switch (r.opcode) {
          case Opcode::kWrite: w.opcode = IBV_WR_RDMA_WRITE; break;
          case Opcode::kWriteWithImm:
            w.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
            w.imm_data = htonl(r.imm);
            break;
          case Opcode::kRead: w.opcode = IBV_WR_RDMA_READ; break;
          case Opcode::kSend: w.opcode = IBV_WR_SEND; break;
        }
        if (r.opcode != Opcode::kRead && bytes > 0 && bytes <= device_.max_inline()) {
          w.send_flags |= IBV_SEND_INLINE;
        }
        w.wr.rdma.remote_addr = r.remote_addr;
        w.wr.rdma.rkey = r.rkey;
      }
      ibv_send_wr* bad = nullptr;
      if (int err = n > 0 ? ibv_post_send(qp_, wrs, &bad) : 0) {
        if (bad_index) *bad_index = base + static_cast<size_t>(bad - wrs);
        return errno_error(ErrorCode::kInvalidArgument, "ibv_post_send", err);
      }
      if (malformed) {
        if (bad_index) *bad_index = base + n;
        return *malformed;
      }
    }
    return {};
  }
};

class SrdEndpoint final : public VerbsEndpointBase {
 public:
  SrdEndpoint(VerbsDevice& device, const EndpointConfig& config, ibv_qp* qp, uint32_t psn, ibv_pd* pd)
      : VerbsEndpointBase(device, config, qp, psn), pd_(pd), qpx_(ibv_qp_to_qp_ex(qp)) {}
  ~SrdEndpoint() override {
    if (ah_) ibv_destroy_ah(ah_);
  }

  VoidResult connect(std::span<const uint8_t> peer) override {
    Address remote;
    if (auto ok = check_address(peer, &remote); !ok.ok()) return ok;
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_INIT;
    attr.pkey_index = 0;
    attr.port_num = device_.port();
    attr.qkey = kSrdQkey;
    if (auto ok = modify(attr, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_QKEY, "INIT"); !ok.ok()) return ok;
    attr = ibv_qp_attr{};
    attr.qp_state = IBV_QPS_RTR;
    if (auto ok = modify(attr, IBV_QP_STATE, "RTR"); !ok.ok()) return ok;
    attr = ibv_qp_attr{};
    attr.qp_state = IBV_QPS_RTS;
    attr.sq_psn = psn_;
    attr.rnr_retry = static_cast<uint8_t>(std::min<uint32_t>(7, config_.rnr_retry));
    if (auto ok = modify(attr, IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_RNR_RETRY, "RTS"); !ok.ok()) return ok;
    ibv_ah_attr ah{};
    ah.port_num = device_.port();
    ah.is_global = 1;
    std::memcpy(ah.grh.dgid.raw, remote.gid, 16);
    ah_ = ibv_create_ah(pd_, &ah);
    if (ah_ == nullptr) return errno_error(ErrorCode::kUnavailable, "ibv_create_ah", errno);
    remote_qpn_ = remote.qpn;
    state_ = EndpointState::kReady;
    return {};
  }

  VoidResult post_send(std::span<const WorkRequest> requests, size_t* bad_index) override {
    if (state_ == EndpointState::kInit) {
      if (bad_index) *bad_index = 0;
      return make_error(ErrorCode::kFailedPrecondition, "post_send before connect()");
    }
    const DeviceAttributes& attr = device_.attributes();
    ibv_wr_start(qpx_);
    for (size_t i = 0; i < requests.size(); ++i) {
      const WorkRequest& r = requests[i];
      if (auto malformed = check_send_request(r, attr, 0, SIZE_MAX)) {
        ibv_wr_abort(qpx_);
        if (bad_index) *bad_index = i;
        return make_error(malformed->code, "work request " + std::to_string(i) + ": " + malformed->message);
      }
      if ((r.opcode == Opcode::kRead && !attr.supports_rdma_read) ||
          (r.opcode != Opcode::kRead && r.opcode != Opcode::kSend && !attr.supports_write_with_imm)) {
        ibv_wr_abort(qpx_);
        if (bad_index) *bad_index = i;
        return make_error(ErrorCode::kUnsupported,
                          attr.name + " does not support " + to_string(r.opcode) + " on SRD");
      }
      if (!r.signaled) {
        // rdma-core's efa provider refuses an unsignalled work request.
        ibv_wr_abort(qpx_);
        if (bad_index) *bad_index = i;
        return make_error(ErrorCode::kUnsupported, "work request " + std::to_string(i) + ": " + attr.name +
                                                       " (EFA) needs every work request signalled");
      }
      qpx_->wr_id = r.cookie;
      qpx_->wr_flags = IBV_SEND_SIGNALED;
      switch (r.opcode) {
        case Opcode::kWrite: ibv_wr_rdma_write(qpx_, r.rkey, r.remote_addr); break;
        case Opcode::kWriteWithImm: ibv_wr_rdma_write_imm(qpx_, r.rkey, r.remote_addr, htonl(r.imm)); break;
        case Opcode::kRead: ibv_wr_rdma_read(qpx_, r.rkey, r.remote_addr); break;
        case Opcode::kSend: ibv_wr_send(qpx_); break;
      }
      ibv_wr_set_sge_list(qpx_, r.num_sge, reinterpret_cast<const ibv_sge*>(r.sg_list));
      ibv_wr_set_ud_addr(qpx_, ah_, remote_qpn_, kSrdQkey);
    }
    if (int err = ibv_wr_complete(qpx_)) {
      if (bad_index) *bad_index = 0;  // the batch is refused whole
      return errno_error(ErrorCode::kInvalidArgument, "ibv_wr_complete", err);
    }
    return {};
  }

 private:
  ibv_pd* pd_;
  ibv_qp_ex* qpx_;
  ibv_ah* ah_ = nullptr;
  uint32_t remote_qpn_ = 0;
};

class VerbsProtectionDomain final : public ProtectionDomain {
 public:
  VerbsProtectionDomain(VerbsDevice& device, ibv_pd* pd) : device_(device), pd_(pd) {}
  ~VerbsProtectionDomain() override { ibv_dealloc_pd(pd_); }

  Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, size_t length, uint32_t access,
                                                        MemoryKind kind) override {
    if (auto valid = check_registration(addr, length, access, kind, "verbs"); !valid.ok()) return valid.error();
    const int flags = static_cast<int>(ibv_access(access));
    if (kind == MemoryKind::kDevice) {
      auto mr = register_gpu_memory(pd_, device_.attributes().name, addr, length, flags);
      if (!mr.ok()) return mr.error();
      return std::unique_ptr<MemoryRegion>(std::make_unique<VerbsMemoryRegion>(*mr, access, kind, addr));
    }
    ibv_mr* mr = ibv_reg_mr(pd_, addr, length, flags);
    if (mr == nullptr) return errno_error(ErrorCode::kResourceExhausted, "ibv_reg_mr", errno);
    return std::unique_ptr<MemoryRegion>(std::make_unique<VerbsMemoryRegion>(mr, access, kind, addr));
  }

  Result<std::unique_ptr<Endpoint>> create_endpoint(const EndpointConfig& config) override {
    auto* send_cq = dynamic_cast<VerbsCompletionQueue*>(config.send_cq);
    auto* recv_cq = dynamic_cast<VerbsCompletionQueue*>(config.recv_cq);
    if (send_cq == nullptr || recv_cq == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, "completion queues must come from a verbs device");
    }
    const DeviceAttributes& attr = device_.attributes();
    static thread_local std::minstd_rand psn_source(std::random_device{}());
    const uint32_t psn = psn_source() & 0xffffff;
    ibv_qp_cap cap{};
    cap.max_send_wr = config.max_send_wr;
    cap.max_recv_wr = config.max_recv_wr;
    cap.max_send_sge = attr.max_sge;
    cap.max_recv_sge = attr.max_sge;
    cap.max_inline_data = device_.max_inline();
    if (config.kind == EndpointKind::kRc) {
      if (!attr.ordered) return make_error(ErrorCode::kUnsupported, attr.name + " offers no RC endpoints");
      ibv_qp_init_attr init{};
      init.send_cq = send_cq->get();
      init.recv_cq = recv_cq->get();
      init.cap = cap;
      init.qp_type = IBV_QPT_RC;
      init.sq_sig_all = 0;
      ibv_qp* qp = ibv_create_qp(pd_, &init);
      if (qp == nullptr) return errno_error(ErrorCode::kResourceExhausted, "ibv_create_qp", errno);
      return std::unique_ptr<Endpoint>(std::make_unique<RcEndpoint>(device_, config, qp, psn));
    }
    if (!device_.efa()) return make_error(ErrorCode::kUnsupported, attr.name + " offers no SRD endpoints (EFA only)");
    ibv_qp_init_attr_ex init{};
    init.send_cq = send_cq->get();
    init.recv_cq = recv_cq->get();
    init.cap = cap;
    init.qp_type = IBV_QPT_DRIVER;
    init.pd = pd_;
    init.comp_mask = IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_SEND_OPS_FLAGS;
    init.send_ops_flags = IBV_QP_EX_WITH_SEND;
    if (attr.supports_rdma_read) init.send_ops_flags |= IBV_QP_EX_WITH_RDMA_READ;
    if (attr.supports_write_with_imm) {
      init.send_ops_flags |= IBV_QP_EX_WITH_RDMA_WRITE | IBV_QP_EX_WITH_RDMA_WRITE_WITH_IMM;
    }
    efadv_qp_init_attr efa{};
    efa.driver_qp_type = EFADV_QP_DRIVER_TYPE_SRD;
    ibv_qp* qp = efadv_create_qp_ex(device_.context(), &init, &efa, sizeof(efa));
    if (qp == nullptr) return errno_error(ErrorCode::kResourceExhausted, "efadv_create_qp_ex (SRD)", errno);
    return std::unique_ptr<Endpoint>(std::make_unique<SrdEndpoint>(device_, config, qp, psn, pd_));
  }

 private:
  VerbsDevice& device_;
  ibv_pd* pd_;
};

Result<std::unique_ptr<ProtectionDomain>> VerbsDevice::create_protection_domain() {
  ibv_pd* pd = ibv_alloc_pd(context_);
  if (pd == nullptr) return errno_error(ErrorCode::kResourceExhausted, "ibv_alloc_pd", errno);
  return std::unique_ptr<ProtectionDomain>(std::make_unique<VerbsProtectionDomain>(*this, pd));
}

class VerbsProvider final : public Provider {
 public:
  const char* name() const override { return "verbs"; }
  size_t device_count() const override { return devices.size(); }
  Device& device(size_t index) override { return *devices.at(index); }
  const Clock& clock() const override { return clock_; }
  bool progress() override { return false; }  // the NIC moves by itself

  std::vector<std::unique_ptr<VerbsDevice>> devices;

 private:
  SteadyClock clock_;
};

}  // namespace

Status status_from_ibv(int status) {
  switch (status) {
    case IBV_WC_SUCCESS: return Status::kSuccess;
    case IBV_WC_LOC_LEN_ERR: return Status::kLocalLengthError;
    // Local failures of the request itself; rxe reports a bad lkey as a local QP
    // operation error.
    case IBV_WC_LOC_PROT_ERR:
    case IBV_WC_LOC_ACCESS_ERR:
    case IBV_WC_LOC_QP_OP_ERR:
    case IBV_WC_LOC_EEC_OP_ERR:
    case IBV_WC_LOC_RDD_VIOL_ERR:
    case IBV_WC_MW_BIND_ERR: return Status::kLocalProtectionError;
    case IBV_WC_REM_ACCESS_ERR: return Status::kRemoteAccessError;
    case IBV_WC_REM_INV_REQ_ERR: return Status::kRemoteInvalidRequest;
    case IBV_WC_RNR_RETRY_EXC_ERR: return Status::kRnrRetryExceeded;
    case IBV_WC_RETRY_EXC_ERR: return Status::kRetryExceeded;
    case IBV_WC_WR_FLUSH_ERR: return Status::kFlushed;
    // Everything else is the peer or the QP failing the operation.
    default: return Status::kRemoteOperationError;
  }
}

Result<std::unique_ptr<Provider>> open_provider(const VerbsOptions& options) {
  int count = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr || count == 0) {
    if (list) ibv_free_device_list(list);
    return make_error(ErrorCode::kUnavailable,
                      "no RDMA device found (ibv_get_device_list returned none). The verbs provider "
                      "needs a ConnectX/EFA NIC with its driver loaded, or Soft-RoCE: "
                      "`modprobe rdma_rxe && rdma link add rxe0 type rxe netdev <iface>` "
                      "(the kernel must have CONFIG_RDMA_RXE)");
  }
  auto provider = std::make_unique<VerbsProvider>();
  std::string last_error;
  for (int i = 0; i < count; ++i) {
    const char* name = ibv_get_device_name(list[i]);
    if (!options.device_filter.empty() && std::string(name).find(options.device_filter) == std::string::npos) continue;
    ibv_context* context = ibv_open_device(list[i]);
    if (context == nullptr) {
      last_error = std::string("ibv_open_device(") + name + "): " + std::strerror(errno);
      continue;
    }
    auto device = std::make_unique<VerbsDevice>(context, true, options.port, options);
    if (auto ok = device->init(); !ok.ok()) {
      last_error = ok.error().to_string();
      continue;  // the device closes its context
    }
    provider->devices.push_back(std::move(device));
  }
  ibv_free_device_list(list);
  if (provider->devices.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      "no usable RDMA device" + (options.device_filter.empty() ? "" : " matching '" + options.device_filter + "'") +
                          (last_error.empty() ? "" : " (last error: " + last_error + ")"));
  }
  return std::unique_ptr<Provider>(std::move(provider));
}

}  // namespace ferry::verbs
