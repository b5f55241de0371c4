// A client of etcd's v3 JSON gateway (POST /v3/<service>/<call>), over http.h: one
// request, one connection, bounded by a deadline. Endpoints are tried in order, from the
// one that answered last, while they refuse or do not accept connections; the first that
// accepts answers the request. Host names are resolved by the system's resolver, whose
// wait is not bounded here: give addresses where a slow DNS matters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "transport/json/json_value.h"
#include "transport/result.h"

namespace ferry::directory {

class EtcdClient {
 public:
  // Answers larger than this are refused (a directory holds small entries).
  static constexpr size_t kMaxResponseBytes = 4u << 20;

  // endpoints: "host:port", checked by the caller.
  EtcdClient(std::vector<std::string> endpoints, uint64_t request_timeout_ms)
      : endpoints_(std::move(endpoints)), request_timeout_ms_(request_timeout_ms) {}

  // POSTs `request` (a JSON object) to /v3/`call` ("kv/range") and returns etcd's answer.
  // etcd's refusals are errors carrying etcd's message. The whole call, every endpoint
  // tried included, ends by the request timeout or `deadline_ns`, whichever is first.
  Result<json::JsonValue> call(const std::string& call, const std::string& request,
                               uint64_t deadline_ns = UINT64_MAX);

  // "etcd://host:port[,host:port...]"
  std::string url() const;

 private:
  std::vector<std::string> endpoints_;
  uint64_t request_timeout_ms_;
  size_t preferred_ = 0;  // the endpoint that answered last
};

// etcd's int64 fields come as JSON strings ("42"), sometimes as numbers; proto3 leaves
// out zeros. The member `key` of `object` as an int64: 0 when absent, an error when it is
// not an integer.
Result<int64_t> int64_member(const json::JsonValue& object, std::string_view key);

}  // namespace ferry::directory
