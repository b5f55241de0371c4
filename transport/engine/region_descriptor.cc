#include "transport/engine/region_descriptor.h"

#include <cstring>
#include <string>

namespace ferry {
namespace {

constexpr uint32_t kDescriptorMagic = 0x31445246;  // "FRD1"
// Version 2 added the memory kind and the GPU's ordinal; version 3 the rails a buffer
// is not registered on.
constexpr uint32_t kDescriptorVersion = 3;
constexpr uint32_t kMaxRails = 64;
constexpr size_t kHeaderBytes = 4 + 4 + 8 + 8 + 4 + 4 + 4 + 8;

template <typename T>
void put(std::vector<uint8_t>& out, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

template <typename T>
T get(std::span<const uint8_t> in, size_t offset) {
  T value;
  std::memcpy(&value, in.data() + offset, sizeof(T));
  return value;
}

}  // namespace

std::vector<uint8_t> RegionDescriptor::serialize() const {
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + 4 * rkeys.size());
  put(out, kDescriptorMagic);
  put(out, kDescriptorVersion);
  put(out, addr);
  put(out, length);
  put(out, static_cast<uint32_t>(kind));
  put(out, device);
  put(out, static_cast<uint32_t>(rkeys.size()));
  put(out, absent_rails);
  for (uint32_t rkey : rkeys) put(out, rkey);
  return out;
}

Result<RegionDescriptor> RegionDescriptor::parse(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes) {
    return make_error(ErrorCode::kInvalidArgument,
                      "region descriptor of " + std::to_string(bytes.size()) +
                          " bytes is shorter than its header (" + std::to_string(kHeaderBytes) + ")");
  }
  if (get<uint32_t>(bytes, 0) != kDescriptorMagic) {
    return make_error(ErrorCode::kInvalidArgument, "not a region descriptor (bad magic)");
  }
  if (const auto version = get<uint32_t>(bytes, 4); version != kDescriptorVersion) {
    return make_error(ErrorCode::kInvalidArgument,
                      "region descriptor version " + std::to_string(version) + ", expected " +
                          std::to_string(kDescriptorVersion));
  }
  RegionDescriptor d;
  d.addr = get<uint64_t>(bytes, 8);
  d.length = get<uint64_t>(bytes, 16);
  const auto kind = get<uint32_t>(bytes, 24);
  if (kind > static_cast<uint32_t>(MemoryKind::kDevice)) {
    return make_error(ErrorCode::kInvalidArgument, "region descriptor names memory kind " + std::to_string(kind) +
                                                       ", expected 0 (host) or 1 (GPU)");
  }
  d.kind = static_cast<MemoryKind>(kind);
  d.device = get<int32_t>(bytes, 28);
  if ((d.kind == MemoryKind::kHost) != (d.device == -1) || d.device < -1) {
    return make_error(ErrorCode::kInvalidArgument, "region descriptor's GPU ordinal " + std::to_string(d.device) +
                                                       " does not fit its memory kind");
  }
  const uint32_t rails = get<uint32_t>(bytes, 32);
  if (rails == 0 || rails > kMaxRails) {
    return make_error(ErrorCode::kInvalidArgument,
                      "region descriptor names " + std::to_string(rails) + " rails, expected 1.." +
                          std::to_string(kMaxRails));
  }
  if (bytes.size() != kHeaderBytes + 4ull * rails) {
    return make_error(ErrorCode::kInvalidArgument,
                      "region descriptor of " + std::to_string(bytes.size()) + " bytes, expected " +
                          std::to_string(kHeaderBytes + 4ull * rails) + " for " +
                          std::to_string(rails) + " rails");
  }
  if (d.length == 0 || d.addr + d.length < d.addr) {
    return make_error(ErrorCode::kInvalidArgument, "region descriptor has an empty or wrapping range");
  }
  for (uint32_t r = 0; r < rails; ++r) d.rkeys.push_back(get<uint32_t>(bytes, kHeaderBytes + 4 * r));
  d.absent_rails = get<uint64_t>(bytes, 36);
  const uint64_t every_rail = rails >= 64 ? ~0ull : (1ull << rails) - 1;
  if ((d.absent_rails & ~every_rail) != 0 || d.absent_rails == every_rail) {
    return make_error(ErrorCode::kInvalidArgument, "region descriptor's absent rails do not fit its " +
                                                       std::to_string(rails) + " rails, or leave none");
  }
  for (uint32_t r = 0; r < rails; ++r) {
    if (!d.has_rail(r) && d.rkeys[r] != 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        "region descriptor gives a key for rail " + std::to_string(r) + ", which it marks absent");
    }
  }
  return d;
}

}  // namespace ferry
