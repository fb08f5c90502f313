#pragma once
// Internal: one grouped_linear call as the kernels see it, the per-ISA dispatch table and
// the scalar epilogue every kernel shares (so the float arithmetic is written once).
#include <algorithm>
#include <cstdint>

#include "quantkit/kernels/grouped_linear.h"

namespace quantkit::kernels::grouped_detail {

struct GroupedProblem {
  const GroupedWeights* w = nullptr;
  PerTokenInput in;
  const float* bias = nullptr;  // N values or null
  float* y = nullptr;           // [M, N]
};

// Output channels [begin, end) of every row.
using GroupedFn = void (*)(const GroupedProblem&, std::int64_t begin, std::int64_t end);

struct GroupedKernels {
  const char* name = nullptr;
  GroupedFn run = nullptr;
};

GroupedKernels grouped_kernels_portable();
GroupedKernels grouped_kernels_avx2();
GroupedKernels grouped_kernels_avx512();
GroupedKernels grouped_kernels_avx512_vnni();

// The float32 arithmetic of grouped_linear.h, written once for every kernel: the running
// sum over groups (in group order, from 0.0f, no FMA) and the row's scale and bias.
inline float add_group(float sum, std::int32_t acc, float w_scale) {
  const float term = static_cast<float>(acc) * w_scale;
  return sum + term;
}
inline float finish_output(const GroupedProblem& p, std::int64_t m, std::int64_t n, float sum) {
  float out = sum * p.in.scale[static_cast<std::size_t>(m)];
  if (p.bias != nullptr) out = out + p.bias[n];
  return out;
}

// The int8-weight tail of a group whose size is not a multiple of the vector step (only
// int8 weights: 4-bit groups are multiples of 32): dot[r] += Σ (x + x_offset)·w, scalar.
template <int Rows>
void add_scalar_tail(const std::int8_t* const* x, const std::uint8_t* row, std::int64_t k,
                     std::int64_t k_end, std::int32_t x_offset, std::int32_t* dot) {
  for (; k < k_end; ++k) {
    const std::int32_t wk = static_cast<std::int8_t>(row[k]);
    for (int r = 0; r < Rows; ++r) dot[r] += (x[r][k] + x_offset) * wk;
  }
}

// sum[r] = add_group(sum[r], dot[r] − zp[r]·wsum, scale) for each row of a tile, the
// accumulator wrapping like the hardware (its true value fits int32: GroupedWeights::pack).
// The SIMD kernels vectorize this over 8 rows with the same per-lane operations.
template <int Rows>
void add_groups_scalar(float* sum, const std::int32_t* dot, const std::int32_t* zp,
                       std::int32_t wsum, float scale) {
  for (int r = 0; r < Rows; ++r) {
    const auto acc = static_cast<std::int32_t>(static_cast<std::uint32_t>(dot[r]) -
                                               static_cast<std::uint32_t>(zp[r]) *
                                                   static_cast<std::uint32_t>(wsum));
    sum[r] = add_group(sum[r], acc, scale);
  }
}

// The loop nest of the SIMD kernels: tiles of Rows activation rows (8, then single rows for
// the remainder) share each weight row; per group, Dots::group_dots<Bits, Rows>(x, w_row,
// k_begin, k_end, dot) returns the raw dot products Σ x'·w of each row of the tile over
// [k_begin, k_end), where x' = x + Dots::kXOffset (0, or 128 for vpdpbusd's unsigned
// operand); the exact accumulator is then dot − (x_zp + kXOffset)·Σw over the group
// (Dots::add_groups, which also adds the group's float32 term). Bits
// (the packed weight width) and Rows are template arguments: no branch in the inner loops.
template <class Dots, int Bits, int Rows>
void run_tile(const GroupedProblem& p, std::int64_t m0, std::int64_t begin, std::int64_t end) {
  const GroupedWeights& w = *p.w;
  const std::int64_t k = w.k(), n = w.n(), gs = w.group_size(), groups = w.num_groups();
  const std::int8_t* x[Rows];
  std::int32_t zp[Rows];
  for (int r = 0; r < Rows; ++r) {
    x[r] = p.in.x + (m0 + r) * k;
    zp[r] = p.in.zero_point[static_cast<std::size_t>(m0 + r)] + Dots::kXOffset;
  }
  for (std::int64_t c = begin; c < end; ++c) {
    const std::uint8_t* row = w.row(c);
    const float* scale = w.scales(c);
    const std::int32_t* wsum = w.group_sums(c);
    float sum[Rows];
    for (int r = 0; r < Rows; ++r) sum[r] = 0.0f;
    for (std::int64_t g = 0; g < groups; ++g) {
      std::int32_t dot[Rows];
      Dots::template group_dots<Bits, Rows>(x, row, g * gs, (g + 1) * gs, dot);
      Dots::template add_groups<Rows>(sum, dot, zp, wsum[g], scale[g]);
    }
    for (int r = 0; r < Rows; ++r) p.y[(m0 + r) * n + c] = finish_output(p, m0 + r, c, sum[r]);
  }
}

template <class Dots, int Bits>
void run_tiles(const GroupedProblem& p, std::int64_t begin, std::int64_t end) {
  constexpr int kRows = 8;
  std::int64_t m0 = 0;
  for (; m0 + kRows <= p.in.m; m0 += kRows) run_tile<Dots, Bits, kRows>(p, m0, begin, end);
  for (; m0 < p.in.m; ++m0) run_tile<Dots, Bits, 1>(p, m0, begin, end);
}

template <class Dots>
void run_simd(const GroupedProblem& p, std::int64_t begin, std::int64_t end) {
  if (p.w->bits() == 4) {
    run_tiles<Dots, 4>(p, begin, end);
  } else {
    run_tiles<Dots, 8>(p, begin, end);
  }
}

}  // namespace quantkit::kernels::grouped_detail
