// ApotLinear: construction (codes → integer multipliers, packed for the integer GEMM) and the
// fast forward. The shift-and-add reference is in apot_linear_reference.cpp.
#include "quantkit/apot/apot_linear.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

constexpr std::int64_t kMaxActivationMagnitude = 255;  // |x - x_zp| for uint8 / int8

// The longest K range whose int32 sum cannot overflow: chunk · 255 · max|M| < 2^31.
std::int64_t int32_chunk_length(std::int64_t max_abs_multiplier, std::int64_t k) {
  if (max_abs_multiplier == 0) return std::max<std::int64_t>(k, 1);
  const std::int64_t limit =
      std::numeric_limits<std::int32_t>::max() / (kMaxActivationMagnitude * max_abs_multiplier);
  return std::max<std::int64_t>(limit, 1);
}

template <class T>
Tensor narrow_weights(const std::vector<std::int64_t>& weights, std::int64_t n, std::int64_t k0,
                      std::int64_t k1, std::int64_t k) {
  Tensor out = Tensor::empty({n, k1 - k0}, dtype_of_v<T>);
  T* dst = out.data<T>();
  for (std::int64_t r = 0; r < n; ++r) {
    for (std::int64_t c = k0; c < k1; ++c) *dst++ = static_cast<T>(weights[r * k + c]);
  }
  return out;
}

// Columns [k0, k1) of the rows of x (flattened to [m, k]), contiguous.
Tensor slice_columns(const Tensor& x, std::int64_t m, std::int64_t k, std::int64_t k0,
                     std::int64_t k1) {
  Tensor out = Tensor::empty({m, k1 - k0}, x.dtype());
  const auto* src = static_cast<const std::uint8_t*>(x.raw_data());
  auto* dst = static_cast<std::uint8_t*>(out.raw_data());
  for (std::int64_t r = 0; r < m; ++r) {
    std::copy(src + r * k + k0, src + r * k + k1, dst + r * (k1 - k0));
  }
  return out;
}

}  // namespace

ApotLinear::ApotLinear(const ApotTensor& weight, std::optional<Tensor> bias)
    : quantizer_(weight.quantizer), codes_(weight.codes), bias_(std::move(bias)) {
  constexpr const char* kWhere = "ApotLinear";
  check_argument(quantizer_ != nullptr, kWhere, "weight.quantizer", std::string("null"),
                 "the quantizer that produced the codes");
  check_argument(codes_.dtype() == DType::Int32, kWhere, "weight.codes.dtype",
                 dtype_name(codes_.dtype()), "int32 APoT codes");
  check_argument(codes_.dim() == 2 && codes_.size(0) >= 1 && codes_.size(1) >= 1, kWhere,
                 "weight.codes.shape", shape_to_string(codes_.shape()), "[N, K] with N, K >= 1");
  n_ = codes_.size(0);
  k_ = codes_.size(1);
  if (bias_) {
    check_argument(bias_->dtype() == DType::Float32, kWhere, "bias.dtype",
                   dtype_name(bias_->dtype()), "float32");
    check_argument(bias_->shape() == Shape{n_}, kWhere, "bias.shape",
                   shape_to_string(bias_->shape()), "[" + std::to_string(n_) + "]");
  }
  const ApotScheme& scheme = quantizer_->qparams().scheme;
  exponent_ = scheme.smallest_term_exponent();
  multipliers_ = apot_level_multipliers(scheme);  // throws when E > 61
  const std::int64_t levels = static_cast<std::int64_t>(multipliers_.size());

  std::vector<std::int64_t> weights(static_cast<std::size_t>(n_ * k_));
  const std::int32_t* codes = codes_.data<std::int32_t>();
  for (std::int64_t i = 0; i < n_ * k_; ++i) {
    check_argument(codes[i] >= 0 && codes[i] < levels, kWhere, "weight.codes",
                   std::to_string(codes[i]) + " at flat index " + std::to_string(i),
                   "codes in [0, " + std::to_string(levels) + ") for scheme " + scheme.label());
    const std::int64_t m = multipliers_[static_cast<std::size_t>(codes[i])];
    weights[static_cast<std::size_t>(i)] = m;
    max_abs_multiplier_ = std::max(max_abs_multiplier_, m < 0 ? -m : m);
  }

  if (max_abs_multiplier_ <= std::numeric_limits<std::int8_t>::max()) {
    storage_ = WeightStorage::Int8;
  } else if (max_abs_multiplier_ <= std::numeric_limits<std::int16_t>::max()) {
    storage_ = WeightStorage::Int16;
  } else {
    storage_ = WeightStorage::Int64;
    weights_ = std::move(weights);
    return;
  }
  const std::int64_t chunk = int32_chunk_length(max_abs_multiplier_, k_);
  for (std::int64_t k0 = 0; k0 < k_; k0 += chunk) {
    const std::int64_t k1 = std::min(k_, k0 + chunk);
    const Tensor w = storage_ == WeightStorage::Int8
                         ? narrow_weights<std::int8_t>(weights, n_, k0, k1, k_)
                         : narrow_weights<std::int16_t>(weights, n_, k0, k1, k_);
    chunks_.push_back({k0, k1, std::make_unique<kernels::PackedWeights>(w)});
  }
}

ApotLinear ApotLinear::from_float(const Tensor& weight, const ApotScheme& scheme,
                                  std::optional<Tensor> bias) {
  constexpr const char* kWhere = "ApotLinear::from_float";
  check_argument(weight.dtype() == DType::Float32, kWhere, "weight.dtype",
                 dtype_name(weight.dtype()), "float32");
  check_argument(weight.dim() == 2 && weight.numel() > 0, kWhere, "weight.shape",
                 shape_to_string(weight.shape()), "[N, K] with N, K >= 1");
  float lo = 0.0f, hi = 0.0f;
  for (float v : weight.span<float>()) {
    check_argument(std::isfinite(v), kWhere, "weight", v, "finite values");
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  // APoTObserver.calculate_qparams: alpha = max(-min_val, max_val).
  const float alpha = std::max(-lo, hi);
  auto quantizer = std::make_shared<const ApotQuantizer>(make_apot_qparams(scheme, alpha));
  return ApotLinear(quantize_apot(weight, std::move(quantizer)), std::move(bias));
}

float ApotLinear::output_scale(double x_scale) const {
  check_argument(std::isfinite(x_scale) && x_scale > 0, "ApotLinear::output_scale", "x_scale",
                 x_scale, "a finite value > 0");
  // x_scale · gamma · 2^-E in double (the power of two is exact), rounded once.
  return static_cast<float>(std::ldexp(x_scale * static_cast<double>(qparams().gamma), -exponent_));
}

void ApotLinear::check_forward(const Tensor& x, double x_scale, std::int32_t x_zero_point,
                               const char* where) const {
  check_argument(x.dtype() == DType::UInt8 || x.dtype() == DType::Int8, where, "x.dtype",
                 dtype_name(x.dtype()), "uint8 or int8");
  check_argument(x.dim() >= 1 && x.size(-1) == k_, where, "x.shape", shape_to_string(x.shape()),
                 "[..., K] with K = " + std::to_string(k_) + " (in_features)");
  check_argument(x_zero_point >= dtype_min(x.dtype()) && x_zero_point <= dtype_max(x.dtype()),
                 where, "x_zero_point", x_zero_point,
                 "a value inside the " + std::string(dtype_name(x.dtype())) + " range");
  check_argument(std::isfinite(x_scale) && x_scale > 0, where, "x_scale", x_scale,
                 "a finite value > 0");
  // The int64 accumulator is exact: K · 255 · max|M| < 2^63.
  const std::int64_t bound = std::numeric_limits<std::int64_t>::max() / kMaxActivationMagnitude;
  check_argument(max_abs_multiplier_ == 0 || k_ <= bound / max_abs_multiplier_, where, "scheme",
                 qparams().scheme.label(),
                 "K * 255 * max|M| < 2^63 for exact integer accumulation (max|M| = " +
                     std::to_string(max_abs_multiplier_) + ", K = " + std::to_string(k_) +
                     "); use an fp32 linear for this scheme");
}

Tensor ApotLinear::forward(const Tensor& x, double x_scale, std::int32_t x_zero_point) const {
  check_forward(x, x_scale, x_zero_point, "ApotLinear::forward");
  const float scale = output_scale(x_scale);
  if (chunks_.size() == 1) {
    // One integer GEMM with the rescale fused in its epilogue.
    kernels::FloatEpilogue epilogue{{scale}, bias_};
    return kernels::qlinear(x, x_zero_point, *chunks_.front().packed, epilogue);
  }

  Shape out_shape = x.shape();
  out_shape.back() = n_;
  const std::int64_t m = x.numel() / k_;
  std::vector<std::int64_t> acc(static_cast<std::size_t>(m * n_), 0);
  if (storage_ == WeightStorage::Int64) {
    const auto* xb = static_cast<const std::uint8_t*>(x.raw_data());
    const bool is_signed = x.dtype() == DType::Int8;
    for (std::int64_t r = 0; r < m; ++r) {
      for (std::int64_t c = 0; c < n_; ++c) {
        std::int64_t sum = 0;
        const std::int64_t* w = weights_.data() + c * k_;
        for (std::int64_t kk = 0; kk < k_; ++kk) {
          const std::int64_t xv =
              (is_signed ? static_cast<std::int64_t>(static_cast<std::int8_t>(xb[r * k_ + kk]))
                         : static_cast<std::int64_t>(xb[r * k_ + kk])) -
              x_zero_point;
          sum += xv * w[kk];
        }
        acc[static_cast<std::size_t>(r * n_ + c)] = sum;
      }
    }
  } else {
    // int32 GEMMs over K chunks that cannot overflow, summed exactly in int64.
    for (const Chunk& chunk : chunks_) {
      const Tensor xs = slice_columns(x, m, k_, chunk.k0, chunk.k1);
      const Tensor part =
          kernels::qlinear(xs, x_zero_point, *chunk.packed, kernels::Int32Epilogue{});
      const std::int32_t* p = part.data<std::int32_t>();
      for (std::size_t i = 0; i < acc.size(); ++i) acc[i] += p[i];
    }
  }
  Tensor y = Tensor::empty(out_shape, DType::Float32);
  float* out = y.data<float>();
  const float* bias = bias_ ? bias_->data<float>() : nullptr;
  for (std::int64_t r = 0; r < m; ++r) {
    for (std::int64_t c = 0; c < n_; ++c) {
      float v = static_cast<float>(acc[static_cast<std::size_t>(r * n_ + c)]) * scale;
      if (bias) v = v + bias[c];
      out[r * n_ + c] = v;
    }
  }
  return y;
}

Tensor ApotLinear::integer_weights() const {
  Tensor out = Tensor::empty({n_, k_}, DType::Int64);
  const std::int32_t* codes = codes_.data<std::int32_t>();
  std::int64_t* dst = out.data<std::int64_t>();
  for (std::int64_t i = 0; i < n_ * k_; ++i) {
    dst[i] = multipliers_[static_cast<std::size_t>(codes[i])];
  }
  return out;
}

Tensor ApotLinear::dequantized_weights() const { return quantizer_->dequantize_f32(codes_); }

}  // namespace quantkit::apot
