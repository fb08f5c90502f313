#pragma once
// Channel concatenation of int8 / uint8 NHWC tensors into one NHWC output, requantizing the
// inputs whose quantization differs from the output's.
//
// For input i with channels C_i at output channel offset o_i = C_0 + … + C_{i−1}:
//   same scale and zero point as the output:  y[p, o_i + c] = x_i[p, c]          (a copy)
//   otherwise:  y[p, o_i + c] = requantize(x_i[p, c] − zp_i, m_i, out_zp, qmin, qmax)
//               m_i = float32(scale_i / out_scale)        (kernels/requantize.h)
// (one float32 multiply and round half to even, within one step of dequantize → quantize;
// torch's quantized cat dequantizes and requantizes each input the same way up to that
// float rounding.)
//
// Kernels: the requantization of one input byte depends on that byte only, so each
// requantized input gets a 256-entry table at construction and runs kernels::lut_apply (AVX2,
// AVX-512 VBMI); copies are memcpy. concat_reference computes requantize directly.
#include <cstdint>
#include <span>
#include <vector>

#include "quantkit/core/dtype.h"
#include "quantkit/kernels/lut.h"

namespace quantkit::kernels {

struct ConcatInput {
  std::int64_t channels = 0;  // ≥ 1
  double scale = 1.0;
  std::int32_t zero_point = 0;
  std::int64_t pixel_stride = 0;  // elements between pixels; 0: channels
};

struct ConcatParams {
  DType dtype = DType::Int8;  // every input and the output: Int8 or UInt8
  std::vector<ConcatInput> inputs;
  double out_scale = 1.0;
  std::int32_t out_zero_point = 0;
  std::int64_t out_pixel_stride = 0;  // 0: the sum of the input channels
};

// The definition as plain loops over pixels [begin, end); inputs[i] points at input i.
void concat_reference(const ConcatParams& p, std::span<const void* const> inputs, void* output,
                      std::int64_t begin, std::int64_t end);

class ConcatRequant {
 public:
  explicit ConcatRequant(ConcatParams params);  // validates; builds the tables
  std::int64_t out_channels() const { return out_channels_; }
  // Whether input i is copied (same quantization as the output).
  bool is_copy(std::size_t i) const { return copy_[i]; }
  // Pixels [begin, end) of every input into output (no allocation; no checks).
  void run(std::span<const void* const> inputs, void* output, std::int64_t begin,
           std::int64_t end) const;
  void run_reference(std::span<const void* const> inputs, void* output, std::int64_t begin,
                     std::int64_t end) const;

 private:
  ConcatParams params_;
  std::int64_t out_channels_ = 0;
  std::vector<bool> copy_;
  std::vector<Lut256> tables_;  // one per input (unused for copies)
};

}  // namespace quantkit::kernels
