// Base64 (RFC 4648, standard alphabet, padded): how etcd's JSON gateway carries keys and
// values, which are bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ferry::directory {

std::string base64_encode(std::string_view bytes);
// The bytes, or nothing when `text` is not padded base64 of the standard alphabet.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace ferry::directory
