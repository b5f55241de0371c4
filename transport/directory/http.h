// Just enough HTTP/1.1 to talk to etcd's JSON gateway: one POST per connection
// ("Connection: close"), the answer read whole, strictly and within bounds. A status
// line, header or chunk that is not HTTP, a body beyond the limit or an answer that
// does not come in time is an error naming the peer; never a crash or a hang.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "transport/result.h"

namespace ferry::directory {

struct HttpResponse {
  int status = 0;
  std::string body;
};

// Headers larger than this are not an HTTP server we talk to.
constexpr size_t kMaxHttpHeaderBytes = 16u << 10;

// Parses the bytes received so far: the response once complete, nothing while more bytes
// are needed, or an error. `peer_closed` says no more bytes will come (a body without a
// length ends there). Bodies with Content-Length, chunked ones and ones ended by the
// close are accepted; a body beyond `max_body_bytes` is kOutOfRange.
Result<std::optional<HttpResponse>> parse_http_response(std::string_view bytes, bool peer_closed,
                                                        size_t max_body_bytes);

// Sends `POST path` with a JSON body on the connected socket `fd` and reads the answer,
// everything before deadline_ns (steady clock). `peer` ("host:port") names it in errors.
Result<HttpResponse> http_post(int fd, const std::string& peer, const std::string& path, const std::string& json_body,
                               uint64_t deadline_ns, size_t max_body_bytes);

}  // namespace ferry::directory
