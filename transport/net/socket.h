// Blocking TCP socket calls with a deadline, for the tcp provider (outside its event loop)
// and the etcd directory: listening, connecting with a bounded wait, whole-buffer
// exchanges. Every error names the address and the system's reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "transport/result.h"

namespace ferry::net {

// A listening socket on host:port (port 0: ephemeral), non-blocking.
Result<int> listen_on(const std::string& host, uint16_t port);
// The port a bound socket got.
Result<uint16_t> local_port(int fd);
// An IPv4 address in network order, from dotted text.
Result<uint32_t> parse_ipv4(const std::string& host);
std::string format_endpoint(uint32_t ipv4, uint16_t port);
// "host:port" split in two; an error naming the text when either part is missing or the
// port is not 1..65535.
Result<std::pair<std::string, uint16_t>> split_host_port(const std::string& host_port);
// An IPv4 address in network order for dotted text or a host name (the resolver's first).
Result<uint32_t> resolve_ipv4(const std::string& host);

// A connected socket to ipv4:port, or an error once timeout_ns passed (unreachable,
// refused). The socket is blocking; TCP_NODELAY is set.
Result<int> connect_to(uint32_t ipv4, uint16_t port, uint64_t timeout_ns);
// All n bytes written or read before deadline_ns (steady clock), or an error.
VoidResult write_all(int fd, const void* data, size_t n, uint64_t deadline_ns, const std::string& peer);
VoidResult read_all(int fd, void* data, size_t n, uint64_t deadline_ns, const std::string& peer);
// Whatever arrives first, at most n bytes, before deadline_ns: the count read, 0 when the
// peer closed the connection, or an error.
Result<size_t> read_some(int fd, void* data, size_t n, uint64_t deadline_ns, const std::string& peer);

void set_nonblocking(int fd);
void set_nodelay(int fd);

}  // namespace ferry::net
