#include "transport/directory/http.h"

#include <algorithm>
#include <cctype>

#include "transport/net/socket.h"

namespace ferry::directory {
namespace {

using Parsed = Result<std::optional<HttpResponse>>;

Error malformed(const std::string& what) {
  return make_error(ErrorCode::kUnavailable, "malformed HTTP response: " + what);
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += std::isprint(static_cast<unsigned char>(c)) ? c : '?';
  return text.size() > 40 ? out + "..." : out;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal (Content-Length) or hex (chunk size) digits, refusing anything beyond `limit`.
std::optional<size_t> parse_size(std::string_view digits, int base, size_t limit) {
  if (digits.empty() || digits.size() > 16) return std::nullopt;
  size_t value = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return std::nullopt;
    value = value * base + d;
    if (value > limit) return limit + 1;  // over the limit: the caller says so
  }
  return value;
}

// A chunked body from `body` on: the response once the last chunk and the trailers came.
Parsed parse_chunked(std::string_view body, bool peer_closed, size_t max_body_bytes, HttpResponse response) {
  size_t pos = 0;
  for (;;) {
    const size_t line_end = body.find("\r\n", pos);
    if (line_end == std::string_view::npos) {
      if (body.size() - pos > 64) return malformed("a chunk size line is too long");
      break;
    }
    std::string_view size_text = body.substr(pos, line_end - pos);
    size_text = trim(size_text.substr(0, size_text.find(';')));  // chunk extensions say nothing to us
    const auto size = parse_size(size_text, 16, max_body_bytes);
    if (!size) return malformed("bad chunk size '" + printable(size_text) + "'");
    if (response.body.size() + *size > max_body_bytes) {
      return make_error(ErrorCode::kOutOfRange,
                        "HTTP response body exceeds " + std::to_string(max_body_bytes) + " bytes");
    }
    pos = line_end + 2;
    if (*size == 0) {
      // Trailers, then an empty line.
      for (;;) {
        const size_t end = body.find("\r\n", pos);
        if (end == std::string_view::npos) {
          if (body.size() - pos > kMaxHttpHeaderBytes) return malformed("trailers too long");
          break;
        }
        if (end == pos) return std::optional<HttpResponse>(std::move(response));
        pos = end + 2;
      }
      break;
    }
    if (body.size() - pos < *size + 2) break;
    if (body.substr(pos + *size, 2) != "\r\n") return malformed("a chunk does not end with CRLF");
    response.body.append(body.substr(pos, *size));
    pos += *size + 2;
  }
  if (peer_closed) return malformed("the connection closed inside a chunked body");
  return std::optional<HttpResponse>();
}

}  // namespace

Parsed parse_http_response(std::string_view bytes, bool peer_closed, size_t max_body_bytes) {
  const size_t header_end = bytes.find("\r\n\r\n");
  if (header_end == std::string_view::npos) {
    if (bytes.size() > kMaxHttpHeaderBytes) return malformed("headers exceed " + std::to_string(kMaxHttpHeaderBytes) + " bytes");
    // Refuse a status line that cannot become HTTP as soon as it is seen.
    const std::string_view start = bytes.substr(0, 7);
    if (start != std::string_view("HTTP/1.").substr(0, start.size())) {
      return malformed("status line '" + printable(bytes.substr(0, bytes.find('\n'))) + "'");
    }
    if (peer_closed) return malformed("the connection closed inside the headers");
    return std::optional<HttpResponse>();
  }
  if (header_end > kMaxHttpHeaderBytes) return malformed("headers exceed " + std::to_string(kMaxHttpHeaderBytes) + " bytes");

  const std::string_view head = bytes.substr(0, header_end);
  const size_t status_end = std::min(head.find("\r\n"), head.size());
  const std::string_view status_line = head.substr(0, status_end);
  // "HTTP/1.x DDD reason"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || !std::isdigit(uint8_t(status_line[7])) ||
      status_line[8] != ' ' || !std::isdigit(uint8_t(status_line[9])) || !std::isdigit(uint8_t(status_line[10])) ||
      !std::isdigit(uint8_t(status_line[11])) || (status_line.size() > 12 && status_line[12] != ' ')) {
    return malformed("status line '" + printable(status_line) + "'");
  }
  HttpResponse response;
  response.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');

  std::optional<size_t> content_length;
  bool chunked = false;
  size_t pos = status_end + 2;
  while (pos < head.size()) {
    const size_t end = std::min(head.find("\r\n", pos), head.size());
    const std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return malformed("header line '" + printable(line) + "'");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_ignoring_case(name, "Content-Length")) {
      content_length = parse_size(value, 10, max_body_bytes);
      if (!content_length) return malformed("Content-Length '" + printable(value) + "'");
    } else if (equals_ignoring_case(name, "Transfer-Encoding")) {
      if (!equals_ignoring_case(value, "chunked")) {
        return malformed("Transfer-Encoding '" + printable(value) + "' (only chunked is understood)");
      }
      chunked = true;
    }
  }

  const std::string_view body = bytes.substr(header_end + 4);
  if (chunked) return parse_chunked(body, peer_closed, max_body_bytes, std::move(response));
  const size_t expected = content_length.value_or(body.size());
  if (expected > max_body_bytes || body.size() > max_body_bytes) {
    return make_error(ErrorCode::kOutOfRange, "HTTP response body exceeds " + std::to_string(max_body_bytes) + " bytes");
  }
  if (content_length) {
    if (body.size() > *content_length) return malformed("more body bytes than Content-Length says");
    if (body.size() < *content_length) {
      if (peer_closed) return malformed("the connection closed before Content-Length bytes came");
      return std::optional<HttpResponse>();
    }
  } else if (!peer_closed) {
    return std::optional<HttpResponse>();  // the body ends with the connection
  }
  response.body.assign(body);
  return std::optional<HttpResponse>(std::move(response));
}

Result<HttpResponse> http_post(int fd, const std::string& peer, const std::string& path, const std::string& json_body,
                               uint64_t deadline_ns, size_t max_body_bytes) {
  const std::string request = "POST " + path + " HTTP/1.1\r\nHost: " + peer +
                              "\r\nContent-Type: application/json\r\nContent-Length: " +
                              std::to_string(json_body.size()) + "\r\nConnection: close\r\n\r\n" + json_body;
  if (auto sent = net::write_all(fd, request.data(), request.size(), deadline_ns, peer); !sent.ok()) {
    return sent.error();
  }
  std::string received;
  char chunk[16384];
  for (;;) {
    auto n = net::read_some(fd, chunk, sizeof chunk, deadline_ns, peer);
    if (!n.ok()) return n.error();
    received.append(chunk, *n);
    auto parsed = parse_http_response(received, *n == 0, max_body_bytes);
    if (!parsed.ok()) return make_error(parsed.error().code, "from " + peer + ": " + parsed.error().message);
    if (parsed->has_value()) return std::move(**parsed);
    if (*n == 0) return make_error(ErrorCode::kInternal, "from " + peer + ": the HTTP parser wants bytes after the close");
    // parse_http_response refuses anything past its bounds, so `received` stays bounded.
  }
}

}  // namespace ferry::directory
