// The fixed inputs a fuzzer's gtest runs through its libFuzzer entry point: the input
// cut at every length, and the input with each byte in turn flipped. The entry point
// aborts on a broken invariant and must return 0 for every one (tools/fuzz.sh explores
// further with libFuzzer).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ferry {

using FuzzEntry = int (*)(const uint8_t* data, size_t size);

inline void expect_every_truncation_and_corruption_survives(FuzzEntry entry, const std::vector<uint8_t>& input,
                                                            uint8_t flip) {
  for (size_t n = 0; n <= input.size(); ++n) EXPECT_EQ(entry(input.data(), n), 0) << "cut to " << n << " bytes";
  for (size_t i = 0; i < input.size(); ++i) {
    std::vector<uint8_t> corrupt = input;
    corrupt[i] ^= flip;
    EXPECT_EQ(entry(corrupt.data(), corrupt.size()), 0) << "byte " << i << " flipped";
  }
}

}  // namespace ferry
