// A POSIX shared-memory segment holding one provider's Segment (layout.h): created by its
// owner, which unlinks it when done, and attached by the processes that connect to it.
#pragma once

#include <string>

#include "transport/ipc/layout.h"
#include "transport/result.h"

namespace ferry::ipc {

class SharedSegment {
 public:
  // A new segment named after this process and a random tag, zeroed, its header filled.
  static Result<SharedSegment> create(uint32_t key_salt);
  // The segment `name` of another provider (or of this one), checked for its header.
  static Result<SharedSegment> attach(const std::string& name);

  SharedSegment() = default;
  ~SharedSegment();
  SharedSegment(SharedSegment&& other) noexcept;
  SharedSegment& operator=(SharedSegment&& other) noexcept;
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;

  Segment& operator*() const { return *segment_; }
  Segment* operator->() const { return segment_; }
  const std::string& name() const { return name_; }

 private:
  void release();

  Segment* segment_ = nullptr;
  std::string name_;
  bool owner_ = false;
};

}  // namespace ferry::ipc
