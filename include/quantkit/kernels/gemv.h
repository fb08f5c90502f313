#pragma once
// Matrix-vector products for batch-1 linear layers (M = 1), where streaming the
// weights is the whole cost: an int8-weight GEMV and a packed 4-bit-weight GEMV
// (two weights per byte, unpacked in registers) with the same arithmetic.
//
//   acc[n] = Σ_k (x[k] − x_zp) · w[n][k] + bias_i32[n] (mod 2^32)
//
// x: K uint8 or int8 activations with a zero point; w: symmetric weights (no
// zero point), int8 or int4 in [−8, 7], one row of K per output channel
// (PyTorch's linear layout [N, K]). The sum wraps modulo 2^32, so every kernel
// gives the same bits; it is the true sum whenever that fits in int32 (always
// for int8 weights with K ≤ 33,025; for int4 with K ≤ 1,052,688). On weights in
// [−8, 7] the int8 and the 4-bit GEMV return identical bits.
//
// Epilogues, exactly those of qlinear (gemm.h, docs/kernels.md "Epilogues"):
//   GemvRequant: y = requantize(acc, multiplier[n], out_zp, qmin, qmax)
//   (kernels/requantize.h) GemvDequant: y = float(acc) * scale[n], then +
//   bias[n] if given        (float32, no FMA)
// For dynamic quantization the caller passes scale[n] = float32(x_scale ·
// w_scale[n]) per call (dequant_scales in gemm.h), N floats against the N·K
// weights streamed.
//
// Kernels (chosen from active_isa(); every level gives the same bits): portable
// (scalar loops on the packed layout), avx2 and avx512 (weights widened to
// int16, vpmaddwd), avx512_vnni (vpdpbusd on 64-byte weight loads; 4-bit: two
// nibble masks per load feed two vpdpbusd). Layout and figures:
// docs/kernels.md, "GEMV".
//
// Threads: gemv runs on the calling thread over output channels [begin, end);
// callers split N in multiples of GemvWeights::kBlockN, each thread streaming
// only its share of the weights. Results do not depend on the split.
#include <cstdint>
#include <span>

#include "quantkit/core/dtype.h"
#include "quantkit/core/tensor.h"

namespace quantkit::kernels {

// Weights packed once for the GEMV kernels (immutable). Layout: blocks of
// kBlockN = 64 output channels (the last zero padded), each block one
// contiguous stream of K groups:
//   int8: groups of 4 k (K zero padded to a multiple of 4), 256 bytes each:
//   four 64-byte
//         chunks; chunk j, byte 4c + t = w[64b + 16j + c][4g + t] (vpdpbusd's
//         operand).
//   int4: groups of 8 k (K padded to a multiple of 8), 256 bytes each: four
//   64-byte chunks;
//         chunk j, byte 4c + t: low nibble  = w[64b + 16j + c][8g + t]     + 8,
//                               high nibble = w[64b + 16j + c][8g + 4 + t] + 8.
//         Nibbles hold w + 8 in [0, 15] (unsigned: one AND unpacks them); the
//         kernels subtract 8·Σ_k x' once per call. Padding weights are 0
//         (nibble 8).
class GemvWeights {
 public:
  static constexpr std::int64_t kBlockN = 64;

  // w: N·K int8 values in row-major [N, K] (N, K ≥ 1).
  static GemvWeights pack_int8(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k);
  // w: N·K values in [−8, 7], row-major [N, K].
  static GemvWeights pack_int4(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k);
  // ONNX's INT4 storage (Int4x2): element i = n·K + k of the row-major [N, K]
  // tensor is the low nibble of byte i / 2 when i is even, the high nibble when
  // odd, a 4-bit two's-complement value; ceil(N·K / 2) bytes (an odd count
  // leaves the last high nibble unused).
  static GemvWeights pack_int4_nibbles(std::span<const std::uint8_t> nibbles, std::int64_t n,
                                       std::int64_t k);

  int bits() const { return bits_; }  // 8 or 4
  std::int64_t n() const { return n_; }
  std::int64_t k() const { return k_; }
  std::int64_t k_padded() const { return k_padded_; }  // multiple of 4 (int8) or 8 (int4)
  std::int64_t num_blocks() const { return num_blocks_; }
  // Bytes of one 64-channel block and of the whole packed weight.
  std::int64_t block_bytes() const { return block_bytes_; }
  std::int64_t packed_bytes() const { return block_bytes_ * num_blocks_; }
  const std::uint8_t* data() const { return packed_.data<std::uint8_t>(); }
  // Σ_k w[n][k] (mod 2^32), num_blocks()·64 values, zero for padding channels.
  const std::int32_t* column_sums() const { return column_sums_.data<std::int32_t>(); }
  // w[n][k] read back from the packed bytes; throws Error out of range.
  std::int32_t at(std::int64_t n, std::int64_t k) const;

 private:
  GemvWeights(int bits, std::span<const std::int8_t> w, std::int64_t n, std::int64_t k);

  int bits_ = 8;
  std::int64_t n_ = 0, k_ = 0, k_padded_ = 0, num_blocks_ = 0, block_bytes_ = 0;
  Tensor packed_;       // uint8, 64-byte aligned
  Tensor column_sums_;  // int32
};

// The activations of one call.
struct GemvInput {
  const void* x = nullptr;             // K values of dtype
  DType dtype = DType::UInt8;          // UInt8 or Int8
  std::int32_t zero_point = 0;         // inside dtype's range
  std::span<const std::int32_t> bias;  // empty (zero) or N values
};

struct GemvRequant {
  std::span<const float> multiplier;  // 1 (per tensor) or N finite values > 0
  std::int32_t zero_point = 0;        // inside out_dtype's range
  DType out_dtype = DType::Int8;      // Int8 or UInt8
  std::int32_t quant_min = -128;      // quant_min <= quant_max, inside out_dtype's range
  std::int32_t quant_max = 127;
};

struct GemvDequant {
  std::span<const float> scale;  // 1 or N finite values
  std::span<const float> bias;   // empty or N values, added after the multiply
};

// Output channels [begin, end) of y (N elements of out_dtype / float32; y[n]
// for n in the range is written, nothing else). begin a multiple of kBlockN,
// end a multiple of it or N; end = -1 means N. Dispatches on active_isa();
// allocates nothing; throws Error on invalid arguments (the checks read the
// range's multipliers / scales once).
void gemv(const GemvWeights& w, const GemvInput& in, const GemvRequant& epilogue, void* y,
          std::int64_t begin = 0, std::int64_t end = -1);
void gemv(const GemvWeights& w, const GemvInput& in, const GemvDequant& epilogue, float* y,
          std::int64_t begin = 0, std::int64_t end = -1);

// The definition as plain loops over the unpacked weights w (N·K int8,
// row-major [N, K]): the oracle the kernels are tested against. All N outputs.
void gemv_reference(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k,
                    const GemvInput& in, const GemvRequant& epilogue, void* y);
void gemv_reference(std::span<const std::int8_t> w, std::int64_t n, std::int64_t k,
                    const GemvInput& in, const GemvDequant& epilogue, float* y);

// The kernel gemv runs now: "portable", "avx2", "avx512" or "avx512_vnni" (the
// qlinear VNNI switch, set_avx512_vnni_enabled, applies here too).
const char* active_gemv_kernel();

}  // namespace quantkit::kernels
