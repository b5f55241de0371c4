#include "transport/wire_fields.h"

namespace ferry {

WireWriter& WireWriter::u64(uint64_t v) {
  for (int i = 0; i < 8; ++i) data_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return *this;
}

WireWriter& WireWriter::bytes(std::span<const uint8_t> b) {
  u64(b.size());
  data_.insert(data_.end(), b.begin(), b.end());
  return *this;
}

WireWriter& WireWriter::text(const std::string& s) {
  return bytes({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

uint64_t WireReader::u64() {
  if (failed_ || data_.size() - at_ < 8) return failed_ = true, 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{data_[at_ + i]} << (8 * i);
  at_ += 8;
  return v;
}

std::vector<uint8_t> WireReader::bytes() {
  const uint64_t n = u64();
  if (failed_ || data_.size() - at_ < n) return failed_ = true, std::vector<uint8_t>();
  std::vector<uint8_t> out(data_.begin() + static_cast<long>(at_), data_.begin() + static_cast<long>(at_ + n));
  at_ += n;
  return out;
}

std::string WireReader::text() {
  const std::vector<uint8_t> b = bytes();
  return std::string(b.begin(), b.end());
}

}  // namespace ferry
