#pragma once
// A small deterministic generator for the benchmarks' operands: filling tens of millions of
// weights with <random> would dominate start-up, and the values only need to be reproducible.
#include <cstdint>

namespace quantkit::bench {

struct Lcg {
  std::uint64_t state;
  std::uint32_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<std::uint32_t>(state >> 33);
  }
};

}  // namespace quantkit::bench
