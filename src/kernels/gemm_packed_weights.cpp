// PackedWeights: the one-time repacking of a linear layer's integer weight into the layout
// the integer kernels stream (include/quantkit/kernels/gemm.h).
#include <cstdint>
#include <string>

#include "gemm_internal.h"
#include "quantkit/core/error.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {
namespace {

constexpr const char* kWhere = "PackedWeights";

template <class T>
void pack_blocks(const T* w, std::int64_t n, std::int64_t k, std::int64_t k_padded, T* out,
                 std::int32_t* column_sums) {
  constexpr std::int64_t B = PackedWeights::kBlockN;
  constexpr std::int64_t G = PackedWeights::kGroupK;
  for (std::int64_t row = 0; row < n; ++row) {
    const T* src = w + row * k;
    T* block = out + (row / B) * k_padded * B;
    const std::int64_t lane = row % B;
    std::int32_t sum = 0;
    for (std::int64_t kk = 0; kk < k; ++kk) {
      block[(kk / G) * B * G + lane * G + kk % G] = src[kk];
      sum = gemm_detail::wrap_add(sum, src[kk]);
    }
    column_sums[row] = sum;
  }
}

}  // namespace

PackedWeights::PackedWeights(const Tensor& w, std::span<const std::int32_t> zero_points) {
  check_argument(w.dtype() == DType::Int8 || w.dtype() == DType::Int16, kWhere, "w.dtype",
                 dtype_name(w.dtype()), "int8 or int16");
  check_argument(w.dim() == 2, kWhere, "w.shape", shape_to_string(w.shape()),
                 "a 2-d [N, K] weight");
  dtype_ = w.dtype();
  n_ = w.size(0);
  k_ = w.size(1);
  check_argument(zero_points.empty() || zero_points.size() == 1 ||
                     static_cast<std::int64_t>(zero_points.size()) == n_,
                 kWhere, "zero_points.size", zero_points.size(),
                 "0, 1 or N = " + std::to_string(n_) + " values");
  const std::int64_t lo = dtype_min(dtype_), hi = dtype_max(dtype_);
  for (std::int32_t zp : zero_points) {
    check_argument(zp >= lo && zp <= hi, kWhere, "zero_points", zp,
                   "a value inside the " + std::string(dtype_name(dtype_)) + " range");
  }
  zero_points_.assign(static_cast<std::size_t>(n_), 0);
  for (std::int64_t c = 0; c < n_; ++c) {
    zero_points_[c] = zero_points.empty()       ? 0
                      : zero_points.size() == 1 ? zero_points[0]
                                                : zero_points[c];
    has_zero_points_ = has_zero_points_ || zero_points_[c] != 0;
  }

  k_padded_ = (k_ + kGroupK - 1) / kGroupK * kGroupK;
  num_blocks_ = (n_ + kBlockN - 1) / kBlockN;
  // Zero padding matters: padded k and padded channels must contribute nothing.
  packed_ = Tensor::zeros({num_blocks_ * k_padded_ * kBlockN}, dtype_);
  column_sums_.assign(static_cast<std::size_t>(n_), 0);
  if (dtype_ == DType::Int8) {
    pack_blocks(w.data<std::int8_t>(), n_, k_, k_padded_, packed_.data<std::int8_t>(),
                column_sums_.data());
  } else {
    pack_blocks(w.data<std::int16_t>(), n_, k_, k_padded_, packed_.data<std::int16_t>(),
                column_sums_.data());
  }
}

std::int32_t PackedWeights::at(std::int64_t n, std::int64_t k) const {
  check_argument(n >= 0 && n < n_, "PackedWeights::at", "n", n, "0 <= n < " + std::to_string(n_));
  check_argument(k >= 0 && k < k_, "PackedWeights::at", "k", k, "0 <= k < " + std::to_string(k_));
  const std::int64_t index = (n / kBlockN) * k_padded_ * kBlockN +
                             (k / kGroupK) * kBlockN * kGroupK + (n % kBlockN) * kGroupK +
                             k % kGroupK;
  return dtype_ == DType::Int8 ? packed_.data<std::int8_t>()[index]
                               : packed_.data<std::int16_t>()[index];
}

}  // namespace quantkit::kernels
