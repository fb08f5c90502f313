// matmul (numpy semantics with batch broadcasting; each 2-D product through gemm_f32,
// i.e. OpenBLAS) and constant 2-D padding.
#include <algorithm>
#include <cstring>
#include <vector>

#include "quantkit/kernels/gemm.h"
#include "reference_ops.h"

namespace quantkit::graph::ref {

Tensor matmul_f32(const Tensor& a_in, const Tensor& b_in, const Shape& out_shape) {
  Shape a = a_in.shape();
  Shape b = b_in.shape();
  if (a.size() == 1) a.insert(a.begin(), 1);
  if (b.size() == 1) b.push_back(1);
  const std::int64_t m = a[a.size() - 2], k = a.back(), n = b.back();
  const Shape a_batch(a.begin(), a.end() - 2);
  const Shape b_batch(b.begin(), b.end() - 2);
  const std::size_t rank = std::max(a_batch.size(), b_batch.size());
  Shape batch(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a_batch.size() ? 1 : a_batch[i - (rank - a_batch.size())];
    const std::int64_t db = i < rank - b_batch.size() ? 1 : b_batch[i - (rank - b_batch.size())];
    batch[i] = std::max(da, db);
  }
  const std::int64_t batches = shape_numel(batch);
  Tensor out = Tensor::empty(out_shape, DType::Float32);
  const float* pa = a_in.data<float>();
  const float* pb = b_in.data<float>();
  float* po = out.data<float>();
  // Offset of batch index `flat` in an operand whose batch dims are `dims` (broadcast
  // dims of size 1 stay at 0).
  auto offset = [&](std::int64_t flat, const Shape& dims) {
    std::int64_t off = 0, stride = 1;
    for (std::size_t i = rank; i-- > 0;) {
      const std::int64_t idx = flat % batch[i];
      flat /= batch[i];
      const std::size_t skip = rank - dims.size();
      if (i >= skip) {
        const std::int64_t d = dims[i - skip];
        if (d != 1) off += idx * stride;
        stride *= d;
      }
    }
    return off;
  };
  std::vector<float> bt(static_cast<std::size_t>(k * n));
  std::int64_t bt_offset = -1;  // the b matrix bt holds (a constant weight: transposed once)
  // Rows per gemm call: with batch dims (dim 0 is then the batch) one call per 2-D product,
  // a product's rows being one sample's; a 2-d a [B, K] goes row by row, its rows being the
  // samples. Either way a sample's result does not depend on how many come with it (sgemm's
  // summation order depends on the row count), like kernels::linear_f32.
  const std::int64_t rows_per_call = rank > 0 && a_batch.size() == rank ? m : 1;
  for (std::int64_t t = 0; t < batches; ++t) {
    const float* ta = pa + offset(t, a_batch) * m * k;
    const std::int64_t b_offset = offset(t, b_batch) * k * n;
    float* to = po + t * m * n;
    // gemm_f32 takes the right operand as [N, K] (a linear weight).
    if (b_offset != bt_offset) {
      const float* tb = pb + b_offset;
      for (std::int64_t r = 0; r < k; ++r) {
        for (std::int64_t c = 0; c < n; ++c) bt[static_cast<std::size_t>(c * k + r)] = tb[r * n + c];
      }
      bt_offset = b_offset;
    }
    for (std::int64_t r = 0; r < m; r += rows_per_call) {
      kernels::gemm_f32(rows_per_call, n, k, ta + r * k, bt.data(), nullptr, to + r * n);
    }
  }
  return out;
}

Tensor pad2d(const Tensor& x, std::span<const std::int64_t> pads, double value) {
  const Shape& in = x.shape();
  Shape out_shape = in;
  const std::size_t r = in.size();
  out_shape[r - 2] += pads[0] + pads[2];
  out_shape[r - 1] += pads[1] + pads[3];
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const std::int64_t planes = shape_numel(Shape(in.begin(), in.end() - 2));
  const std::int64_t h = in[r - 2], w = in[r - 1];
  const std::int64_t oh = out_shape[r - 2], ow = out_shape[r - 1];
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T fill = static_cast<T>(value);
    const T* src = x.data<T>();
    T* dst = out.data<T>();
    std::fill(dst, dst + out.numel(), fill);
    for (std::int64_t p = 0; p < planes; ++p) {
      for (std::int64_t y = 0; y < h; ++y) {
        const T* row = src + (p * h + y) * w;
        std::copy(row, row + w, dst + (p * oh + y + pads[0]) * ow + pads[1]);
      }
    }
  });
  return out;
}

}  // namespace quantkit::graph::ref
