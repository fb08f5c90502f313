#pragma once
// Internal: one pooling window (a grid of taps inside the input) and the per-ISA window
// kernels behind Pool2d::run (one dispatch table per ISA level, filled once).
#include <cstdint>

#include "quantkit/kernels/pool.h"
#include "quantkit/kernels/requantize.h"

namespace quantkit::kernels::pool_detail {

// Taps first + r·row_step + q·col_step (bytes) for r < rows, q < cols; rows, cols ≥ 1.
struct PoolWindow {
  const std::uint8_t* first = nullptr;
  std::int64_t rows = 0, cols = 0, row_step = 0, col_step = 0;
};

// Channel-wise max of the window's taps into out[0, channels).
using MaxFn = void (*)(const PoolWindow& w, std::int64_t channels, bool is_signed,
                       std::uint8_t* out);
// out[c] = requantize(init + Σ_taps x[c], multiplier, bounds).
using AvgFn = void (*)(const PoolWindow& w, std::int64_t channels, bool is_signed,
                       std::int32_t init, float multiplier, const RequantBounds& bounds,
                       std::uint8_t* out);

struct PoolKernels {
  const char* name = nullptr;
  MaxFn max = nullptr;  // null: the reference runs
  AvgFn avg = nullptr;
};

PoolKernels pool_kernels_avx2();
PoolKernels pool_kernels_avx512();

}  // namespace quantkit::kernels::pool_detail
