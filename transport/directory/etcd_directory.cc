#include "transport/directory/etcd_directory.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "transport/clock.h"
#include "transport/directory/base64.h"
#include "transport/directory/etcd_client.h"
#include "transport/net/socket.h"

namespace ferry::directory {
namespace {

using json::JsonValue;

constexpr size_t kMaxClusterBytes = 128;
constexpr size_t kMaxKeyBytes = 1024;
// Entries are addresses and flags; etcd itself refuses requests above 1.5 MiB.
constexpr size_t kMaxValueBytes = 64u << 10;
constexpr uint64_t kPollInterval_ms = 50;
// A key that changes owner under each attempt: give up rather than loop.
constexpr int kPublishAttempts = 3;

uint64_t now_ns() { return SteadyClock().now_ns(); }

// The first key after every key that starts with `prefix`: etcd's range_end for a prefix.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

// Request bodies hold only base64, decimal digits and fixed names: nothing to escape.
std::string quoted(const std::string& s) { return "\"" + s + "\""; }
std::string b64(const std::string& bytes) { return quoted(base64_encode(bytes)); }

// The key-values of a range answer (kvs), each with its decoded key and value.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t lease = 0;
};

Result<std::vector<KeyValue>> key_values(const JsonValue& range_answer) {
  std::vector<KeyValue> out;
  const JsonValue* kvs = range_answer.find("kvs");
  if (kvs == nullptr) return out;
  if (kvs->type != JsonValue::Type::kArray) return make_error(ErrorCode::kUnavailable, "etcd answered kvs that is not a list");
  for (const JsonValue& kv : kvs->items) {
    const JsonValue* key = kv.find("key");
    const JsonValue* value = kv.find("value");
    auto decoded_key = key && key->type == JsonValue::Type::kString ? base64_decode(key->text) : std::nullopt;
    // An empty value is left out by etcd.
    auto decoded_value = value == nullptr ? std::optional<std::string>("")
                         : value->type == JsonValue::Type::kString ? base64_decode(value->text)
                                                                     : std::nullopt;
    auto lease = int64_member(kv, "lease");
    if (!decoded_key || !decoded_value || !lease.ok()) {
      return make_error(ErrorCode::kUnavailable, "etcd answered a key-value that is not base64 key, value and lease");
    }
    out.push_back({std::move(*decoded_key), std::move(*decoded_value), *lease});
  }
  return out;
}

// The range answer inside the first response of a txn answer.
const JsonValue* txn_range_answer(const JsonValue& txn_answer) {
  const JsonValue* responses = txn_answer.find("responses");
  if (responses == nullptr || responses->type != JsonValue::Type::kArray || responses->items.empty()) return nullptr;
  return responses->items.front().find("response_range");
}

bool txn_succeeded(const JsonValue& txn_answer) {
  const JsonValue* succeeded = txn_answer.find("succeeded");
  return succeeded && succeeded->type == JsonValue::Type::kBool && succeeded->boolean;
}

class EtcdDirectory final : public Directory {
 public:
  EtcdDirectory(std::vector<std::string> endpoints, const DirectoryOptions& options)
      : client_(std::move(endpoints), options.request_timeout_ms),
        options_(options),
        root_("/ferry/" + options.cluster + "/") {}

  // Gets the lease every entry of this process hangs on.
  VoidResult grant_lease() {
    const uint64_t ttl_s = std::max<uint64_t>(1, options_.ttl_ms / 1000 + (options_.ttl_ms % 1000 != 0));
    auto answer = client_.call("lease/grant", "{\"TTL\":" + quoted(std::to_string(ttl_s)) + "}");
    if (!answer.ok()) return failed("granting a lease", answer.error());
    auto id = int64_member(*answer, "ID");
    auto granted_ttl_s = int64_member(*answer, "TTL");
    const JsonValue* refusal = answer->find("error");
    if (!id.ok() || !granted_ttl_s.ok() || *id == 0 || *granted_ttl_s <= 0 ||
        (refusal && refusal->type == JsonValue::Type::kString && !refusal->text.empty())) {
      return make_error(ErrorCode::kUnavailable, describe() + ": no lease granted (etcd answered " +
                                                     (refusal ? refusal->display() : "no ID or TTL") + ")");
    }
    lease_ = *id;
    lease_ttl_ms_ = static_cast<uint64_t>(*granted_ttl_s) * 1000;
    next_renewal_ns_ = now_ns() + lease_ttl_ms_ / 3 * 1'000'000;
    return {};
  }

  // No revoke: the lease expires, as after a crash.
  ~EtcdDirectory() override { stop_renewing(); }

  // Renews the lease from a thread of its own, so that a process busy elsewhere (a
  // blocking connect to a vanished peer, a long computation) keeps its entries: a live
  // process stays in the directory however slow it is, a dead one leaves it within the
  // TTL. keep_alive() reports what the last renewal met.
  void start_renewing() {
    renewer_ = std::thread([this] {
      std::unique_lock lock(mutex_);
      while (!stopping_) {
        const uint64_t now = now_ns();
        if (now >= next_renewal_ns_) {
          // An unreachable etcd: try again soon rather than a third of the TTL later.
          if (!renew_if_due().ok()) next_renewal_ns_ = now_ns() + 200'000'000;
          continue;
        }
        wake_.wait_for(lock, std::chrono::nanoseconds(next_renewal_ns_ - now));
      }
    });
  }

  VoidResult publish(const std::string& key, const std::string& value) override {
    std::lock_guard lock(mutex_);
    if (auto bad = check_key(key, "publish"); !bad.ok()) return bad;
    if (value.size() > kMaxValueBytes) {
      return make_error(ErrorCode::kOutOfRange, describe() + ": publish '" + key + "': a value of " +
                                                    std::to_string(value.size()) + " bytes (at most " +
                                                    std::to_string(kMaxValueBytes) + ")");
    }
    if (closed_) return closed_error("publish", key);
    (void)renew_if_due();  // the publish below reports reachability itself
    auto published = put_owned(key, value);
    if (published.ok()) owned_[key] = value;
    return published;
  }

  VoidResult withdraw(const std::string& key) override {
    std::lock_guard lock(mutex_);
    if (auto bad = check_key(key, "withdraw"); !bad.ok()) return bad;
    if (closed_) return closed_error("withdraw", key);
    (void)renew_if_due();
    const std::string k = b64(root_ + key);
    auto answer = client_.call("kv/txn", "{\"compare\":[{\"key\":" + k + ",\"target\":\"LEASE\",\"lease\":" +
                                             quoted(std::to_string(lease_)) +
                                             "}],\"success\":[{\"request_delete_range\":{\"key\":" + k + "}}]}");
    if (!answer.ok()) return failed("withdraw '" + key + "'", answer.error());
    owned_.erase(key);
    if (!txn_succeeded(*answer)) {
      return make_error(ErrorCode::kNotFound, describe() + ": withdraw '" + key + "': not one of this process's entries");
    }
    return {};
  }

  Result<std::optional<std::string>> lookup(const std::string& key) override {
    std::lock_guard lock(mutex_);
    if (auto bad = check_key(key, "lookup"); !bad.ok()) return bad.error();
    (void)renew_if_due();
    return read_one(key, UINT64_MAX);
  }

  Result<std::string> wait_for(const std::string& key, uint64_t timeout_ms) override {
    if (auto bad = check_key(key, "wait_for"); !bad.ok()) return bad.error();
    // Saturating: a timeout of "forever" must not wrap around to the past.
    const uint64_t start = now_ns();
    const uint64_t deadline =
        timeout_ms > (UINT64_MAX - start) / 1'000'000 ? UINT64_MAX : start + timeout_ms * 1'000'000;
    for (;;) {
      {
        std::lock_guard lock(mutex_);
        (void)renew_if_due();  // a long wait must not cost this process its own entries
        auto found = read_one(key, deadline);
        if (found.ok() && found->has_value()) return std::move(**found);
        if (!found.ok() && now_ns() < deadline) return found.error();
      }
      const uint64_t now = now_ns();
      if (now >= deadline) break;
      std::this_thread::sleep_for(
          std::chrono::nanoseconds(std::min<uint64_t>(kPollInterval_ms * 1'000'000, deadline - now)));
    }
    return make_error(ErrorCode::kDeadlineExceeded, describe() + ": '" + key + "' was not published within " +
                                                        std::to_string(timeout_ms) + " ms");
  }

  Result<std::map<std::string, std::string>> list(const std::string& prefix) override {
    std::lock_guard lock(mutex_);
    if (prefix.size() > kMaxKeyBytes) return check_key(prefix, "list").error();
    (void)renew_if_due();
    const std::string from = root_ + prefix;
    auto answer = client_.call("kv/range", "{\"key\":" + b64(from) + ",\"range_end\":" + b64(prefix_end(from)) + "}");
    if (!answer.ok()) return failed("list '" + prefix + "'", answer.error());
    auto kvs = key_values(*answer);
    if (!kvs.ok()) return failed("list '" + prefix + "'", kvs.error());
    std::map<std::string, std::string> out;
    for (KeyValue& kv : *kvs) {
      if (kv.key.compare(0, root_.size(), root_) != 0) continue;  // not ours to show
      out.emplace(kv.key.substr(root_.size()), std::move(kv.value));
    }
    return out;
  }

  VoidResult keep_alive() override {
    std::lock_guard lock(mutex_);
    if (closed_) return closed_error("keep_alive", "");
    return renew_if_due();
  }

  void close() override {
    stop_renewing();
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    owned_.clear();
    // Should the revoke not arrive, the lease expires within its TTL all the same.
    (void)client_.call("lease/revoke", "{\"ID\":" + quoted(std::to_string(lease_)) + "}");
  }

  std::string describe() const override { return client_.url() + " (cluster " + options_.cluster + ")"; }

 private:
  Error failed(const std::string& what, const Error& why) const {
    return make_error(why.code, describe() + ": " + what + ": " + why.message);
  }

  VoidResult check_key(const std::string& key, const std::string& what) const {
    if (key.empty() || key.size() > kMaxKeyBytes) {
      return make_error(ErrorCode::kInvalidArgument, describe() + ": " + what + ": a key of " +
                                                         std::to_string(key.size()) + " bytes (1.." +
                                                         std::to_string(kMaxKeyBytes) + ")");
    }
    return {};
  }

  Error closed_error(const std::string& what, const std::string& key) const {
    return make_error(ErrorCode::kFailedPrecondition,
                      describe() + ": " + what + (key.empty() ? "" : " '" + key + "'") + " after close()");
  }

  // Puts key=value on this process's lease unless another lease holds the key.
  VoidResult put_owned(const std::string& key, const std::string& value) {
    const std::string k = b64(root_ + key);
    const std::string put = "{\"request_put\":{\"key\":" + k + ",\"value\":" + b64(value) +
                            ",\"lease\":" + quoted(std::to_string(lease_)) + "}}";
    const std::string read_back = "{\"request_range\":{\"key\":" + k + "}}";
    const std::string create = "{\"key\":" + k + ",\"target\":\"CREATE\",\"create_revision\":\"0\"}";
    const std::string mine = "{\"key\":" + k + ",\"target\":\"LEASE\",\"lease\":" + quoted(std::to_string(lease_)) + "}";
    // First as a new key; when it exists and is ours, as a replacement guarded by our lease.
    // Between the two the key may vanish or change hands: try again, a few times.
    bool exists_as_ours = false;
    for (int attempt = 0; attempt < kPublishAttempts; ++attempt) {
      const std::string& guard = exists_as_ours ? mine : create;
      auto answer = client_.call("kv/txn", "{\"compare\":[" + guard + "],\"success\":[" + put + "],\"failure\":[" +
                                               read_back + "]}");
      if (!answer.ok()) return failed("publish '" + key + "'", answer.error());
      if (txn_succeeded(*answer)) return {};
      const JsonValue* range = txn_range_answer(*answer);
      if (range == nullptr) return make_error(ErrorCode::kUnavailable, describe() + ": publish '" + key + "': etcd's txn answer has no read-back");
      auto kvs = key_values(*range);
      if (!kvs.ok()) return failed("publish '" + key + "'", kvs.error());
      if (kvs->empty()) {
        exists_as_ours = false;
        continue;
      }
      const int64_t owner = kvs->front().lease;
      if (owner != lease_) {
        return make_error(ErrorCode::kFailedPrecondition,
                          describe() + ": publish '" + key + "': the key is owned by another live process (lease " +
                              std::to_string(owner) + ", ours " + std::to_string(lease_) + ")");
      }
      exists_as_ours = true;
    }
    return make_error(ErrorCode::kUnavailable,
                      describe() + ": publish '" + key + "': the key kept changing; gave up after " +
                          std::to_string(kPublishAttempts) + " attempts");
  }

  Result<std::optional<std::string>> read_one(const std::string& key, uint64_t deadline_ns) {
    auto answer = client_.call("kv/range", "{\"key\":" + b64(root_ + key) + "}", deadline_ns);
    if (!answer.ok()) return failed("lookup '" + key + "'", answer.error());
    auto kvs = key_values(*answer);
    if (!kvs.ok()) return failed("lookup '" + key + "'", kvs.error());
    if (kvs->empty()) return std::optional<std::string>();
    return std::optional<std::string>(std::move(kvs->front().value));
  }

  // Renews the lease when a third of its TTL passed since the last renewal; otherwise
  // returns at once. A lease etcd no longer knows (it expired: this process was silent
  // longer than the TTL) is replaced and this process's entries are published again;
  // the error then says they were gone for a while.
  // Returns what the last renewal met when none is due.
  VoidResult renew_if_due() {
    if (closed_ || now_ns() < next_renewal_ns_) return renewal_;
    renewal_ = renew();
    return renewal_;
  }

  VoidResult renew() {
    auto answer = client_.call("lease/keepalive", "{\"ID\":" + quoted(std::to_string(lease_)) + "}");
    if (!answer.ok()) return failed("renewing lease " + std::to_string(lease_), answer.error());
    const JsonValue* result = answer->find("result");
    if (result == nullptr) {
      const JsonValue* error = answer->find("error");
      return make_error(ErrorCode::kUnavailable, describe() + ": renewing lease " + std::to_string(lease_) +
                                                     ": etcd answered " + (error ? error->display() : "no result"));
    }
    auto ttl_s = int64_member(*result, "TTL");
    if (!ttl_s.ok()) return failed("renewing lease " + std::to_string(lease_), ttl_s.error());
    if (*ttl_s > 0) {
      next_renewal_ns_ = now_ns() + lease_ttl_ms_ / 3 * 1'000'000;
      return {};
    }
    const int64_t expired = lease_;
    if (auto granted = grant_lease(); !granted.ok()) return granted;
    std::string lost;
    for (const auto& [key, value] : owned_) {
      if (!put_owned(key, value).ok()) lost += (lost.empty() ? "'" : ", '") + key + "'";
    }
    return make_error(ErrorCode::kUnavailable,
                      describe() + ": lease " + std::to_string(expired) +
                          " expired (this process did not renew it within its TTL): its entries were gone; " +
                          (lost.empty() ? "published again under lease " + std::to_string(lease_)
                                        : "could not publish again " + lost));
  }

  void stop_renewing() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (renewer_.joinable()) renewer_.join();
  }

  EtcdClient client_;
  DirectoryOptions options_;
  std::string root_;  // "/ferry/<cluster>/"
  std::mutex mutex_;  // calls from several threads take turns
  int64_t lease_ = 0;
  uint64_t lease_ttl_ms_ = 0;
  uint64_t next_renewal_ns_ = 0;
  bool closed_ = false;
  std::map<std::string, std::string> owned_;  // what to publish again under a new lease
  std::condition_variable wake_;
  bool stopping_ = false;
  VoidResult renewal_;  // what the renewing thread's last renewal met
  std::thread renewer_;
};

}  // namespace

Result<std::unique_ptr<Directory>> open_etcd_directory(const std::vector<std::string>& endpoints,
                                                       const DirectoryOptions& options) {
  if (endpoints.empty()) return make_error(ErrorCode::kInvalidArgument, "etcd directory: no endpoints");
  for (const std::string& endpoint : endpoints) {
    if (auto split = net::split_host_port(endpoint); !split.ok()) {
      return make_error(ErrorCode::kInvalidArgument, "etcd directory: endpoint '" + endpoint + "' is not host:port");
    }
  }
  if (options.cluster.empty() || options.cluster.size() > kMaxClusterBytes ||
      options.cluster.find('/') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "etcd directory: cluster name '" + options.cluster +
                                                       "' (1.." + std::to_string(kMaxClusterBytes) +
                                                       " bytes, no '/')");
  }
  if (options.request_timeout_ms == 0) {
    return make_error(ErrorCode::kInvalidArgument, "etcd directory: request_timeout_ms must be positive");
  }
  auto directory = std::make_unique<EtcdDirectory>(endpoints, options);
  if (auto granted = directory->grant_lease(); !granted.ok()) return granted.error();
  directory->start_renewing();
  return std::unique_ptr<Directory>(std::move(directory));
}

}  // namespace ferry::directory
