// libFuzzer entry point for RegionDescriptor::parse, the bytes a peer sends to let this
// engine write into or read from its memory (tools/fuzz.sh builds it with clang and
// runs it; region_descriptor_fuzzer_test runs fixed inputs through it under Bazel's own
// toolchain).
//
// The input is one descriptor. parse() gives a descriptor or an error with a message; a
// descriptor must name 1 to 64 rails, a non-empty range that does not wrap and a GPU
// ordinal that fits its memory kind, and serialise back to exactly the input. A broken
// invariant aborts, which the fuzzer reports with the input that caused it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "transport/engine/region_descriptor.h"

namespace {

void check(bool holds, const char* what) {
  if (holds) return;
  std::fprintf(stderr, "region descriptor parser invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ferry;
  const std::span<const uint8_t> bytes(data, size);
  const Result<RegionDescriptor> d = RegionDescriptor::parse(bytes);
  if (!d.ok()) {
    check(!d.error().message.empty(), "an error has a message");
    return 0;
  }
  check(!d->rkeys.empty() && d->rkeys.size() <= 64, "1 to 64 rails");
  check(d->present_rails() != 0, "at least one rail present");
  for (size_t r = 0; r < d->rkeys.size(); ++r) check(d->has_rail(r) || d->rkeys[r] == 0, "no key on an absent rail");
  check(d->length > 0 && d->contains(d->addr, d->length), "a non-empty range that does not wrap");
  check((d->kind == MemoryKind::kHost && d->device == -1) || (d->kind == MemoryKind::kDevice && d->device >= 0),
        "a GPU ordinal that fits the memory kind");
  const std::vector<uint8_t> again = d->serialize();
  check(again.size() == size && std::equal(again.begin(), again.end(), bytes.begin()),
        "a descriptor serialises back to the bytes it came from");
  return 0;
}
