#include "transport/directory/etcd_client.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "transport/clock.h"
#include "transport/directory/http.h"
#include "transport/net/socket.h"

namespace ferry::directory {
namespace {

uint64_t now_ns() { return SteadyClock().now_ns(); }

// etcd's own error document: {"error": "...", "message": "...", "code": N}.
std::string etcd_message(const json::JsonParse& parsed, const std::string& body) {
  if (parsed.value) {
    if (const json::JsonValue* message = parsed.value->find("message");
        message && message->type == json::JsonValue::Type::kString) {
      return message->text;
    }
  }
  return body.substr(0, 200);
}

// etcd's gRPC codes that mean the request itself is wrong, not the server.
ErrorCode code_of_refusal(int http_status) {
  if (http_status == 400) return ErrorCode::kInvalidArgument;
  if (http_status == 404) return ErrorCode::kNotFound;
  if (http_status == 412) return ErrorCode::kFailedPrecondition;
  return ErrorCode::kUnavailable;
}

}  // namespace

std::string EtcdClient::url() const {
  std::string out = "etcd://";
  for (size_t i = 0; i < endpoints_.size(); ++i) out += (i ? "," : "") + endpoints_[i];
  return out;
}

Result<json::JsonValue> EtcdClient::call(const std::string& call, const std::string& request, uint64_t deadline_ns) {
  const uint64_t start = now_ns();
  if (request_timeout_ms_ <= (UINT64_MAX - start) / 1'000'000) {
    deadline_ns = std::min(deadline_ns, start + request_timeout_ms_ * 1'000'000);
  }
  std::string failures;
  for (size_t attempt = 0; attempt < endpoints_.size(); ++attempt) {
    const size_t index = (preferred_ + attempt) % endpoints_.size();
    const std::string& endpoint = endpoints_[index];
    const uint64_t now = now_ns();
    if (now >= deadline_ns) break;
    // Share what time is left among the endpoints not yet tried, so that one that does
    // not answer leaves the others their turn.
    const uint64_t connect_timeout = (deadline_ns - now) / (endpoints_.size() - attempt);
    auto host_port = net::split_host_port(endpoint);
    if (!host_port.ok()) return host_port.error();
    auto ipv4 = net::resolve_ipv4(host_port->first);
    Result<int> fd = ipv4.ok() ? net::connect_to(*ipv4, host_port->second, connect_timeout) : Result<int>(ipv4.error());
    if (!fd.ok()) {
      failures += (failures.empty() ? "" : "; ") + fd.error().message;
      continue;
    }
    preferred_ = index;
    auto response = http_post(*fd, endpoint, "/v3/" + call, request, deadline_ns, kMaxResponseBytes);
    ::close(*fd);
    if (!response.ok()) return response.error();
    json::JsonParse parsed = json::parse_json(response->body);
    if (response->status != 200) {
      return make_error(code_of_refusal(response->status), "etcd at " + endpoint + " refused " + call + " (HTTP " +
                                                               std::to_string(response->status) +
                                                               "): " + etcd_message(parsed, response->body));
    }
    if (!parsed.value || parsed.value->type != json::JsonValue::Type::kObject) {
      return make_error(ErrorCode::kUnavailable, "etcd at " + endpoint + " answered " + call +
                                                     " with something not a JSON object: " +
                                                     (parsed.value ? "another JSON value" : parsed.error));
    }
    return std::move(*parsed.value);
  }
  return make_error(ErrorCode::kUnavailable,
                    "no endpoint answered " + call + " within " + std::to_string(request_timeout_ms_) +
                        " ms" + (failures.empty() ? std::string() : " (" + failures + ")"));
}

Result<int64_t> int64_member(const json::JsonValue& object, std::string_view key) {
  const json::JsonValue* member = object.find(key);
  if (member == nullptr) return int64_t{0};
  const bool text = member->type == json::JsonValue::Type::kString || member->type == json::JsonValue::Type::kNumber;
  int64_t value = 0;
  const char* end = member->text.data() + member->text.size();
  if (!text || std::from_chars(member->text.data(), end, value).ptr != end || member->text.empty()) {
    return make_error(ErrorCode::kUnavailable,
                      "etcd answered '" + std::string(key) + "' = " + member->display() + ", not an integer");
  }
  return value;
}

}  // namespace ferry::directory
