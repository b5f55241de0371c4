// WireWriter / WireReader: little-endian fields of the small control messages processes
// exchange before and beside the data path (a qualification link, a replay's node
// processes): integers, byte strings and text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ferry {

class WireWriter {
 public:
  WireWriter& u64(uint64_t v);
  WireWriter& bytes(std::span<const uint8_t> b);
  WireWriter& text(const std::string& s);
  const std::vector<uint8_t>& data() const { return data_; }

 private:
  std::vector<uint8_t> data_;
};

// Reads what WireWriter wrote; a short or malformed message sets failed() and yields
// zeros and empty fields, never reads out of bounds.
class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> data) : data_(data) {}
  uint64_t u64();
  std::vector<uint8_t> bytes();
  std::string text();
  bool failed() const { return failed_; }

 private:
  std::span<const uint8_t> data_;
  size_t at_ = 0;
  bool failed_ = false;
};

}  // namespace ferry
