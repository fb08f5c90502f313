// mean (ONNX ReduceMean) and layer_norm (ONNX LayerNormalization): the reductions a
// transformer encoder needs.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "quantkit/core/error.h"
#include "reference_ops.h"

namespace quantkit::graph::ref {

Tensor sum(const Tensor& x, std::int64_t dim) {
  const Shape& shape = x.shape();
  std::int64_t outer = 1, inner = 1;
  for (std::int64_t d = 0; d < dim; ++d) outer *= shape[static_cast<std::size_t>(d)];
  for (std::size_t d = static_cast<std::size_t>(dim) + 1; d < shape.size(); ++d) inner *= shape[d];
  const std::int64_t length = shape[static_cast<std::size_t>(dim)];
  Shape out_shape = shape;
  out_shape.erase(out_shape.begin() + dim);
  Tensor out = Tensor::empty(out_shape, x.dtype());
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* in = x.data<T>();
      T* o = out.data<T>();
      for (std::int64_t a = 0; a < outer; ++a) {
        for (std::int64_t b = 0; b < inner; ++b) {
          T acc = 0;  // in index order, rounded to T after every addition
          for (std::int64_t i = 0; i < length; ++i) acc = acc + in[(a * length + i) * inner + b];
          o[a * inner + b] = acc;
        }
      }
    }
  });
  return out;
}

Tensor mean(const Tensor& x, std::span<const std::int64_t> dims, const Shape& out_shape) {
  const Shape& shape = x.shape();
  const std::size_t rank = shape.size();
  std::vector<bool> reduced(rank, false);
  for (std::int64_t d : dims) {
    reduced[static_cast<std::size_t>(d < 0 ? d + static_cast<std::int64_t>(rank) : d)] = true;
  }
  // Each input element adds into the output element at its index with the reduced dims
  // dropped: out_stride[d] is that index's stride along input dim d (0 when reduced), so
  // any set of dims works, not only trailing ones.
  std::vector<std::int64_t> out_stride(rank, 0);
  std::int64_t stride = 1, count = 1;
  for (std::size_t d = rank; d-- > 0;) {
    if (reduced[d]) {
      count *= shape[d];
    } else {
      out_stride[d] = stride;
      stride *= shape[d];
    }
  }
  Tensor out = Tensor::empty(out_shape, x.dtype());
  std::vector<double> sum(static_cast<std::size_t>(out.numel()), 0.0);
  visit_dtype(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* in = x.data<T>();
      std::vector<std::int64_t> index(rank, 0);
      std::int64_t offset = 0;
      for (std::int64_t i = 0; i < x.numel(); ++i) {
        sum[static_cast<std::size_t>(offset)] += static_cast<double>(in[i]);
        // Next index in row-major order, keeping the output offset in step.
        for (std::size_t d = rank; d-- > 0;) {
          offset += out_stride[d];
          if (++index[d] < shape[d]) break;
          offset -= out_stride[d] * shape[d];
          index[d] = 0;
        }
      }
      T* o = out.data<T>();
      for (std::size_t j = 0; j < sum.size(); ++j) {
        // numpy's mean of no elements is NaN; spelled out rather than 0 / 0.
        o[j] = count == 0 ? std::numeric_limits<T>::quiet_NaN()
                          : static_cast<T>(sum[j] / static_cast<double>(count));
      }
    } else {
      throw Error("mean: dtype " + std::string(dtype_name(x.dtype())) + " is not floating");
    }
  });
  return out;
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor* bias, std::int64_t axis,
                  double eps) {
  const Shape& shape = x.shape();
  const auto rank = static_cast<std::int64_t>(shape.size());
  if (axis < 0) axis += rank;
  std::int64_t row = 1;
  for (std::int64_t d = axis; d < rank; ++d) row *= shape[static_cast<std::size_t>(d)];
  Tensor out = Tensor::empty(shape, DType::Float32);
  if (row == 0) return out;
  const std::int64_t rows = x.numel() / row;
  const float* in = x.data<float>();
  const float* w = weight.data<float>();
  const float* b = bias != nullptr ? bias->data<float>() : nullptr;
  const auto n = static_cast<float>(row);
  const auto epsilon = static_cast<float>(eps);
  float* o = out.data<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* xr = in + r * row;
    float* yr = o + r * row;
    // Float32 throughout, as ONNX Runtime's CPU kernel. The variance is the mean of squared
    // deviations (two passes) rather than E[x^2] - E[x]^2, which cancels and can go negative
    // for rows with a large mean.
    float mean = 0.0f;
    for (std::int64_t h = 0; h < row; ++h) mean += xr[h];
    mean /= n;
    float var = 0.0f;
    for (std::int64_t h = 0; h < row; ++h) {
      const float d = xr[h] - mean;
      var += d * d;
    }
    var /= n;
    // Divide by the deviation (ONNX's function body and ONNX Runtime divide; multiplying by
    // 1 / std would differ in the last bit).
    const float std_dev = std::sqrt(var + epsilon);
    for (std::int64_t h = 0; h < row; ++h) {
      const float y = (xr[h] - mean) / std_dev * w[h];
      yr[h] = b != nullptr ? y + b[h] : y;
    }
  }
  return out;
}

}  // namespace quantkit::graph::ref
