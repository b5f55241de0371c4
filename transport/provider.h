// The provider interface: the seam between ferry's engine and a fabric.
//
// Small and verbs-shaped on purpose: the verbs backend is a thin mapping of it, and the
// emulator (emu/) and the simulation (sim/) must behave as hardware does behind it.
// docs/provider-guide.md explains every call and what a new fabric must guarantee.
//
// Object lifetimes follow verbs: endpoints die before the completion queues and the
// protection domain they use; memory regions die before their protection domain;
// everything dies before its Device and Provider. Destroying a MemoryRegion
// deregisters it: its keys stop working at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "transport/clock.h"
#include "transport/result.h"

namespace ferry {

// ---------------------------------------------------------------------------------
// Kinds and flags

// RC: reliable, delivers and completes in posting order (verbs RC, RoCE, Soft-RoCE).
// SRD: reliable, unordered: operations may land and complete in any order (EFA SRD).
enum class EndpointKind : uint8_t { kRc, kSrd };

enum class MemoryKind : uint8_t { kHost, kDevice };

// Access rights of a memory region; local read is always granted.
enum Access : uint32_t {
  kAccessLocalWrite = 1u << 0,
  kAccessRemoteWrite = 1u << 1,
  kAccessRemoteRead = 1u << 2,
};

enum class Opcode : uint8_t {
  kWrite,         // one-sided write into the peer's memory
  kWriteWithImm,  // write + a 32-bit immediate; consumes one posted recv at the target
  kRead,          // one-sided read of the peer's memory into the local list
  kSend,          // two-sided: lands in the peer's next posted recv
};

// What a completion reports. The local side's kind is the opcode of the work request;
// the target side sees kRecv (a send landed) or kRecvWriteWithImm.
enum class CompletionKind : uint8_t { kWrite, kRead, kSend, kRecv, kRecvWriteWithImm };

// Completion statuses, named and meant as in verbs (ibv_wc_status).
enum class Status : uint8_t {
  kSuccess,
  kLocalLengthError,      // message beyond max_message_bytes, or a recv too short
  kLocalProtectionError,  // a local key/range/right that does not allow the access
  kRemoteAccessError,     // the target's rkey, range, rights or domain refused it
  kRemoteOperationError,  // the target could not complete it (its recv not writable)
  kRemoteInvalidRequest,  // a send longer than the target's recv, or an unsupported op
  kRnrRetryExceeded,      // no recv posted at the target, after every RNR retry
  kRetryExceeded,         // the target did not answer (link down, NIC or node gone)
  kFlushed,               // the endpoint is in the error state; never executed
};

enum class EndpointState : uint8_t { kInit, kReady, kError };

const char* to_string(EndpointKind kind);
const char* to_string(Opcode op);
const char* to_string(CompletionKind kind);
const char* to_string(Status status);
const char* to_string(EndpointState state);
const char* to_string(MemoryKind kind);  // "host", "GPU"

// ---------------------------------------------------------------------------------
// Descriptions

struct DeviceAttributes {
  std::string name;       // e.g. "emu:n0/nic1", "mlx5_0", "rxe0"
  std::string vendor;     // e.g. "ferry-emu", "Mellanox"
  uint32_t ports = 1;
  double link_gbps = 0;   // per port
  uint32_t mtu = 4096;    // path MTU in bytes
  uint32_t max_sge = 16;  // scatter-gather entries per work request
  uint32_t max_send_wr = 1024;
  uint32_t max_recv_wr = 1024;
  uint32_t max_cqe = 65536;
  uint64_t max_message_bytes = 1ull << 31;
  bool ordered = true;          // supports RC endpoints (ordered delivery)
  bool unordered = false;       // supports SRD endpoints
  bool supports_rdma_read = true;
  bool supports_write_with_imm = true;
  int numa_node = -1;           // -1 when unknown
};

struct Sge {
  uint64_t addr = 0;
  uint32_t length = 0;
  uint32_t lkey = 0;
};

// A work request. The scatter-gather list is copied when posted: the array may be
// reused as soon as post_send returns.
struct WorkRequest {
  uint64_t cookie = 0;  // handed back in the completion
  Opcode opcode = Opcode::kWrite;
  const Sge* sg_list = nullptr;
  uint32_t num_sge = 0;
  uint64_t remote_addr = 0;  // write/read: address in the peer's region
  uint32_t rkey = 0;         // write/read: the peer region's remote key
  uint32_t imm = 0;          // kWriteWithImm only
  bool signaled = true;      // success completions only when set; errors always
};

struct RecvRequest {
  uint64_t cookie = 0;
  const Sge* sg_list = nullptr;
  uint32_t num_sge = 0;
};

struct Completion {
  uint64_t cookie = 0;
  Status status = Status::kSuccess;
  CompletionKind kind = CompletionKind::kWrite;
  uint32_t byte_len = 0;   // recv: bytes received; recv-write-with-imm: bytes written
  uint32_t imm = 0;        // valid when has_imm
  bool has_imm = false;
  uint32_t endpoint_id = 0;  // the local endpoint it belongs to
};

// ---------------------------------------------------------------------------------
// Objects

class CompletionQueue {
 public:
  virtual ~CompletionQueue() = default;
  // Moves up to out.size() completions into out and returns how many. Never blocks.
  // An overflowed queue (a completion arrived while it was full) returns an error from
  // then on: completions were lost and the endpoints that lost them are in error.
  virtual Result<size_t> poll(std::span<Completion> out) = 0;
  virtual uint32_t depth() const = 0;
};

class MemoryRegion {
 public:
  virtual ~MemoryRegion() = default;  // deregisters
  virtual void* addr() const = 0;
  virtual size_t length() const = 0;
  virtual uint32_t lkey() const = 0;
  virtual uint32_t rkey() const = 0;
  virtual uint32_t access() const = 0;
  virtual MemoryKind memory_kind() const = 0;
};

struct EndpointConfig {
  EndpointKind kind = EndpointKind::kRc;
  CompletionQueue* send_cq = nullptr;  // completions of posted work requests
  CompletionQueue* recv_cq = nullptr;  // completions of posted recvs
  uint32_t max_send_wr = 256;
  uint32_t max_recv_wr = 256;
  // Transport retries, as in verbs: the target not answering is retried retry_count
  // times, each after retry_timeout_ns, before kRetryExceeded. The default is verbs'
  // timeout code 14 (4.096 us x 2^14, 67 ms), as perftest and most RDMA stacks use: an
  // ACK later than the timeout sets off a go-back-N resend of everything in flight, and
  // a busy Soft-RoCE host delays ACKs by milliseconds (4 ms resent 7 % of the packets).
  uint32_t retry_count = 7;
  uint64_t retry_timeout_ns = 67'108'864;
  // Receiver-not-ready retries: rnr_retry 7 means retry forever (as in verbs).
  uint32_t rnr_retry = 7;
  uint64_t rnr_timer_ns = 100'000;
};

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual EndpointKind kind() const = 0;
  virtual EndpointState state() const = 0;
  virtual uint32_t id() const = 0;
  // An opaque blob to hand to the peer out of band; the peer passes it to connect().
  virtual std::vector<uint8_t> address() const = 0;
  // Init -> Ready. Malformed or unknown addresses are refused with an error.
  virtual VoidResult connect(std::span<const uint8_t> peer_address) = 0;
  // Posts a batch in order. A malformed request (too many SGEs, a full queue, an
  // opcode the device lacks) fails the call: requests before it were posted, it and
  // those after were not, and *bad_index (if given) names it. Access problems are not
  // checked here: they come back as error completions, as on hardware.
  virtual VoidResult post_send(std::span<const WorkRequest> requests,
                               size_t* bad_index = nullptr) = 0;
  virtual VoidResult post_recv(std::span<const RecvRequest> requests,
                               size_t* bad_index = nullptr) = 0;
  // Forces the error state: outstanding and later requests complete with kFlushed.
  virtual void set_error() = 0;
};

class ProtectionDomain {
 public:
  virtual ~ProtectionDomain() = default;
  virtual Result<std::unique_ptr<MemoryRegion>> register_memory(void* addr, size_t length,
                                                                uint32_t access,
                                                                MemoryKind kind) = 0;
  virtual Result<std::unique_ptr<Endpoint>> create_endpoint(const EndpointConfig& config) = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceAttributes& attributes() const = 0;
  virtual Result<std::unique_ptr<ProtectionDomain>> create_protection_domain() = 0;
  virtual Result<std::unique_ptr<CompletionQueue>> create_completion_queue(uint32_t depth) = 0;
};

// A fabric as one node sees it: its devices (one per NIC/rail), its clock and a way to
// drive progress. Everything is non-blocking; nothing happens between calls except on
// real hardware.
class Provider {
 public:
  virtual ~Provider() = default;
  virtual const char* name() const = 0;  // "emu", "sim", "verbs"
  virtual size_t device_count() const = 0;
  virtual Device& device(size_t index) = 0;
  virtual const Clock& clock() const = 0;
  // Lets the fabric move: on a virtual-time fabric this runs the next pending events;
  // on real time it runs what is due. Returns false when there was nothing to do.
  virtual bool progress() = 0;
};

}  // namespace ferry
