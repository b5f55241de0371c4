// The checks a provider makes when a work request is posted, the same in every provider
// so that all refuse the same requests with the same words, before reading the request's
// list (docs/provider-guide.md lists them).
#pragma once

#include <cstddef>
#include <optional>

#include "transport/provider.h"

namespace ferry {

// What is wrong with posting `request` on a device with `attributes` to a send queue
// holding `outstanding` of `capacity` requests; nullopt when nothing is. The message
// does not say which request: the caller prefixes "work request N: ".
std::optional<Error> check_send_request(const WorkRequest& request, const DeviceAttributes& attributes,
                                        size_t outstanding, size_t capacity);

// What is wrong with posting `request` to a receive queue of a device with `attributes`.
std::optional<Error> check_recv_request(const RecvRequest& request, const DeviceAttributes& attributes);

// The kind of the completion a request of `op` reports at its initiator.
CompletionKind local_kind(Opcode op);

}  // namespace ferry
