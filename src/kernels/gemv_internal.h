#pragma once
// Internal: one GEMV call as the kernels see it, and the per-ISA dispatch
// table.
//
// The kernels compute, per 64-channel block, the raw dot products on the packed
// bytes
//   dot[c] = Σ_k x'[k] · u[c][k] (mod 2^32)
// with x' = x (uint8) or x ^ 0x80 (int8, = x + 128) and u the stored weight
// (int8: w; int4: the nibble w + 8), then the epilogue adds the per-channel
// offset
//   offset[c] = bias[c] − x_zp'·Σ_k w[c][k] + row_offset,  row_offset = −8·Σ_k
//   x' (int4) or 0
// which makes dot + offset = Σ_k (x − x_zp)·w + bias exactly, modulo 2^32.
#include <cstdint>

#include "quantkit/kernels/gemv.h"
#include "quantkit/kernels/requantize.h"

namespace quantkit::kernels::gemv_detail {

struct GemvProblem {
  const GemvWeights* w = nullptr;
  const std::uint8_t* x = nullptr;     // K raw bytes
  bool x_signed = false;               // int8 activations: the kernels flip the sign bit
  std::int32_t x_zp_shifted = 0;       // x_zp' (the zero point as uint8)
  std::int32_t row_offset = 0;         // −8·Σ x' for int4, 0 for int8 (mod 2^32)
  const std::int32_t* bias = nullptr;  // N values or null
  bool requant = true;
  // Requantized output.
  const float* multiplier = nullptr;
  bool multiplier_per_channel = false;
  RequantBounds bounds;
  bool out_signed = true;
  // Float output.
  const float* scale = nullptr;
  bool scale_per_channel = false;
  const float* float_bias = nullptr;  // N values or null
  void* y = nullptr;                  // N outputs (int8 / uint8 / float32)
};

// Blocks [block_begin, block_end) of 64 channels: dot products and epilogue.
using GemvFn = void (*)(const GemvProblem&, std::int64_t block_begin, std::int64_t block_end);

struct GemvKernels {
  const char* name = nullptr;
  GemvFn int8 = nullptr;  // GemvWeights::bits() == 8
  GemvFn int4 = nullptr;  // bits() == 4
};

GemvKernels gemv_kernels_portable();
GemvKernels gemv_kernels_avx2();
GemvKernels gemv_kernels_avx512();
GemvKernels gemv_kernels_avx512_vnni();

// The epilogue of one block from its 64 dot products (scalar, any ISA): writes
// only the block's channels below N. The vector kernels use it for the last,
// partial block.
void epilogue_scalar(const GemvProblem& p, std::int64_t block, const std::int32_t* dot);

// The AVX-512 epilogue of one block (any block; partial ones go to
// epilogue_scalar), shared by the AVX-512BW and the VNNI kernels. Defined in
// gemv_avx512.cpp.
void epilogue_avx512(const GemvProblem& p, std::int64_t block, const std::int32_t* dot);

// The x' bytes of the last, partial K group (group_k = 4 or 8 values): real
// values then padding whose x' is 0 (the kernels' sign flip turns 0x80 into 0
// for int8 activations).
inline void tail_group(const GemvProblem& p, std::int64_t group_k, std::uint8_t* out) {
  const std::int64_t k = p.w->k();
  const std::int64_t start = k / group_k * group_k;
  for (std::int64_t i = 0; i < group_k; ++i) {
    out[i] = start + i < k ? p.x[start + i] : (p.x_signed ? 0x80 : 0x00);
  }
}

}  // namespace quantkit::kernels::gemv_detail
