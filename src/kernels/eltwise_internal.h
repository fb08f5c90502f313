#pragma once
// Internal: the binary elementwise dispatch table (one per ISA level, filled once).
#include <cstdint>

#include "quantkit/kernels/eltwise.h"

namespace quantkit::kernels::eltwise_detail {

// n elements of a ∘ b (b_is_scalar: b[0] for all); dtype and op come from the params.
using BinaryFn = void (*)(const BinaryParams&, const std::uint8_t* a, const std::uint8_t* b,
                          std::uint8_t* y, std::int64_t n, bool b_is_scalar);

struct BinaryKernels {
  const char* name = nullptr;
  BinaryFn run = nullptr;  // null: the reference runs
};

BinaryKernels binary_kernels_avx2();
BinaryKernels binary_kernels_avx512();

}  // namespace quantkit::kernels::eltwise_detail
