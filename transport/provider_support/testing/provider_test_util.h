// Test code shared by the software providers' suites (emu/test_util.h,
// sim/test_util.h): readable gtest output for the interface's types, buffers with canary
// guards, endpoints with their queues, and completion matchers; the work-request
// builders and posting come from work_requests.h.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <ostream>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "transport/provider.h"
#include "transport/provider_support/testing/work_requests.h"

// Readable gtest output for the interface's enums and completions (found through ADL).
namespace ferry {
inline void PrintTo(Status value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(CompletionKind value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(EndpointState value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(EndpointKind value, std::ostream* os) { *os << to_string(value); }
inline void PrintTo(const Completion& c, std::ostream* os) { *os << provider_test::describe(c); }
}  // namespace ferry

namespace ferry::provider_test {

// ---------------------------------------------------------------------------------
// Results

inline std::string describe(const Error& error) { return error.to_string(); }

template <typename T>
::testing::AssertionResult is_ok(const Result<T>& result) {
  if (result.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << describe(result.error());
}

[[noreturn]] inline void fatal(const std::string& message) {
  // Caught by gtest and reported as a failure of the running test.
  throw std::runtime_error(message);
}

// ---------------------------------------------------------------------------------
// Completions

// The completion of `cookie` on `ep`, with the given kind and status.
template <typename Ep>
::testing::AssertionResult is_completion(const Completion& c, const Ep& ep, uint64_t cookie, CompletionKind kind,
                                         Status status = Status::kSuccess) {
  if (c.cookie == cookie && c.kind == kind && c.status == status && c.endpoint_id == ep.id()) {
    return ::testing::AssertionSuccess();
  }
  Completion want;
  want.cookie = cookie;
  want.kind = kind;
  want.status = status;
  want.endpoint_id = ep.id();
  return ::testing::AssertionFailure() << "expected " << ::testing::PrintToString(want) << ", got "
                                       << ::testing::PrintToString(c);
}

// Status and cookie only: the kind of an error completion is not part of the contract.
template <typename Ep>
::testing::AssertionResult has_status(const Completion& c, const Ep& ep, uint64_t cookie, Status status) {
  if (c.cookie == cookie && c.status == status && c.endpoint_id == ep.id()) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "expected cookie " << cookie << " with " << to_string(status)
                                       << " on endpoint " << ep.id() << ", got " << ::testing::PrintToString(c);
}

inline const Completion* find_cookie(const std::vector<Completion>& cs, uint64_t cookie) {
  for (const Completion& c : cs) {
    if (c.cookie == cookie) return &c;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------
// Buffers and endpoints

// A registered region with `kGuard` canary bytes before and after it. The source
// pattern of a buffer is pattern_byte(id, offset); its canary is
// pattern_byte(kCanaryTag | id, offset from the start of the front guard).
class Buffer {
 public:
  static constexpr size_t kGuard = 64;
  static constexpr uint32_t kCanaryTag = 0xC0000u;

  Buffer(uint32_t id, size_t size) : id_(id), size_(size), storage_(size + 2 * kGuard) {
    for (size_t i = 0; i < storage_.size(); ++i) storage_[i] = canary(i);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  uint32_t id() const { return id_; }
  size_t size() const { return size_; }
  uint8_t* data() { return storage_.data() + kGuard; }
  const uint8_t* data() const { return storage_.data() + kGuard; }
  uint64_t addr(size_t offset = 0) const { return reinterpret_cast<uint64_t>(data() + offset); }

  // Keys survive deregistration so that tests can try them afterwards.
  uint32_t lkey() const { return lkey_; }
  uint32_t rkey() const { return rkey_; }
  MemoryRegion* region() const { return region_.get(); }
  void attach(std::unique_ptr<MemoryRegion> region) {
    lkey_ = region->lkey();
    rkey_ = region->rkey();
    region_ = std::move(region);
  }
  // Destroys the registration; the bytes stay, so that a late write would show.
  void deregister() { region_.reset(); }

  Sge sge(size_t offset, uint32_t length) const { return Sge{addr(offset), length, lkey_}; }

  // Makes the buffer a source: every byte takes the buffer's pattern.
  Buffer& fill_source() {
    for (size_t i = 0; i < size_; ++i) data()[i] = source_byte(i);
    return *this;
  }
  uint8_t source_byte(size_t offset) const { return pattern_byte(id_, offset); }

  // dst[offset, +length) holds src's pattern from src_offset on.
  ::testing::AssertionResult holds(size_t offset, const Buffer& src, size_t src_offset,
                                   size_t length) const {
    if (offset + length > size_) {
      return ::testing::AssertionFailure() << "range past the end of buffer " << id_;
    }
    return compare(offset, length, "data from buffer " + std::to_string(src.id_) + "@" +
                                       std::to_string(src_offset),
                   [&](size_t i) { return src.source_byte(src_offset + i); });
  }

  // Canary bytes everywhere in the region and the guards: nothing touched it.
  ::testing::AssertionResult untouched() const { return untouched_outside({}); }
  // Canary bytes in [offset, +length) of the region.
  ::testing::AssertionResult untouched(size_t offset, size_t length) const {
    return compare(offset, length, "canary",
                   [&](size_t i) { return canary(kGuard + offset + i); });
  }
  // Canary bytes everywhere (guards included) except in the given region ranges.
  ::testing::AssertionResult untouched_outside(
      std::vector<std::pair<size_t, size_t>> ranges) const {
    std::sort(ranges.begin(), ranges.end());
    size_t pos = 0;  // storage offset
    auto check_until = [&](size_t end) -> ::testing::AssertionResult {
      for (; pos < end; ++pos) {
        if (storage_[pos] != canary(pos)) {
          return ::testing::AssertionFailure()
                 << "buffer " << id_ << " changed outside the expected ranges at "
                 << where(pos) << ": expected canary " << int{canary(pos)} << ", got "
                 << int{storage_[pos]};
        }
      }
      return ::testing::AssertionSuccess();
    };
    for (const auto& [offset, length] : ranges) {
      if (auto r = check_until(kGuard + offset); !r) return r;
      pos = std::max(pos, kGuard + offset + length);
    }
    return check_until(storage_.size());
  }
  ::testing::AssertionResult untouched_outside(size_t offset, size_t length) const {
    return untouched_outside({{offset, length}});
  }

  // A source that nobody wrote into: its pattern in the region, canaries around it.
  ::testing::AssertionResult intact_source() const {
    if (auto r = holds(0, *this, 0, size_); !r) return r;
    return untouched_outside(0, size_);
  }

 private:
  uint8_t canary(size_t storage_offset) const {
    return pattern_byte(kCanaryTag | id_, storage_offset);
  }
  std::string where(size_t storage_offset) const {
    if (storage_offset < kGuard) return "front guard byte " + std::to_string(storage_offset);
    if (storage_offset >= kGuard + size_) {
      return "back guard byte " + std::to_string(storage_offset - kGuard - size_);
    }
    return "offset " + std::to_string(storage_offset - kGuard);
  }
  template <typename Expected>
  ::testing::AssertionResult compare(size_t offset, size_t length, const std::string& what,
                                     Expected expected) const {
    size_t bad = 0;
    size_t first = 0;
    for (size_t i = 0; i < length; ++i) {
      if (data()[offset + i] != expected(i)) {
        if (bad++ == 0) first = i;
      }
    }
    if (bad == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "buffer " << id_ << " [" << offset << ", +" << length << ") should hold "
           << what << ": " << bad << " bytes differ, first at offset " << offset + first
           << " (expected " << int{expected(first)} << ", got "
           << int{data()[offset + first]} << ")";
  }

  uint32_t id_;
  size_t size_;
  std::vector<uint8_t> storage_;
  uint32_t lkey_ = 0;
  uint32_t rkey_ = 0;
  std::unique_ptr<MemoryRegion> region_;
};

enum class Queue { kSend, kRecv };

}  // namespace ferry::provider_test
