#include "transport/ipc/shared_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "transport/random.h"

namespace ferry::ipc {
namespace {

std::string errno_text() { return std::strerror(errno); }

Result<Segment*> map(int fd, const std::string& name) {
  void* p = mmap(nullptr, sizeof(Segment), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    return make_error(ErrorCode::kResourceExhausted, "ipc: mmap of " + name + " failed: " + errno_text());
  }
  return static_cast<Segment*>(p);
}

}  // namespace

Result<SharedSegment> SharedSegment::create(uint32_t key_salt) {
  static std::atomic<uint64_t> counter{0};
  uint64_t tag = static_cast<uint64_t>(getpid()) ^ SteadyClock().now_ns() ^ (counter.fetch_add(1) << 48);
  tag = splitmix64(tag);
  char name[64];
  std::snprintf(name, sizeof name, "/ferry-ipc-%d-%016llx", static_cast<int>(getpid()),
                static_cast<unsigned long long>(tag));
  const int fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
  if (fd < 0) return make_error(ErrorCode::kUnavailable, std::string("ipc: shm_open ") + name + ": " + errno_text());
  if (ftruncate(fd, sizeof(Segment)) != 0) {
    const std::string why = errno_text();
    close(fd);
    shm_unlink(name);
    return make_error(ErrorCode::kResourceExhausted, std::string("ipc: sizing ") + name + ": " + why);
  }
  auto mapped = map(fd, name);
  close(fd);
  if (!mapped.ok()) {
    shm_unlink(name);
    return mapped.error();
  }
  SharedSegment segment;
  segment.segment_ = *mapped;
  segment.name_ = name;
  segment.owner_ = true;
  // ftruncate zeroed it: every slot is free, every ring empty. The header goes last.
  SegmentHeader& header = segment->header;
  header.pid = getpid();
  header.key_salt = key_salt;
  header.probe = kSegmentMagic;
  header.probe_addr = reinterpret_cast<uint64_t>(&header.probe);
  header.version = kSegmentVersion;
  std::atomic_thread_fence(std::memory_order_release);
  header.magic = kSegmentMagic;
  return segment;
}

Result<SharedSegment> SharedSegment::attach(const std::string& name) {
  const int fd = shm_open(name.c_str(), O_RDWR, 0);
  if (fd < 0) {
    return make_error(ErrorCode::kNotFound, "ipc: no provider segment " + name + " (" + errno_text() +
                                                "): its process is gone or on another host");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<size_t>(st.st_size) != sizeof(Segment)) {
    close(fd);
    return make_error(ErrorCode::kInvalidArgument, "ipc: " + name + " is not an ipc provider segment of this build");
  }
  auto mapped = map(fd, name);
  close(fd);
  if (!mapped.ok()) return mapped.error();
  SharedSegment segment;
  segment.segment_ = *mapped;
  segment.name_ = name;
  if (segment->header.magic != kSegmentMagic || segment->header.version != kSegmentVersion) {
    return make_error(ErrorCode::kInvalidArgument, "ipc: " + name + " has a bad magic or version");
  }
  return segment;
}

SharedSegment::~SharedSegment() { release(); }

SharedSegment::SharedSegment(SharedSegment&& other) noexcept
    : segment_(std::exchange(other.segment_, nullptr)),
      name_(std::move(other.name_)),
      owner_(std::exchange(other.owner_, false)) {}

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this != &other) {
    release();
    segment_ = std::exchange(other.segment_, nullptr);
    name_ = std::move(other.name_);
    owner_ = std::exchange(other.owner_, false);
  }
  return *this;
}

void SharedSegment::release() {
  if (segment_ == nullptr) return;
  munmap(segment_, sizeof(Segment));
  // Peers that attached keep their mapping; new ones can no longer find it.
  if (owner_) shm_unlink(name_.c_str());
  segment_ = nullptr;
}

}  // namespace ferry::ipc
