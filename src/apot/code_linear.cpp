#include "quantkit/apot/code_linear.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "quantkit/apot/observer.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/core/error.h"

namespace quantkit::apot {

ApotCodeLinear apot_code_linear_prepare(const Tensor& weight, int b, int k) {
  constexpr const char* where = "apot_code_linear_prepare";
  check_argument(weight.dtype() == DType::Float32, where, "weight.dtype",
                 dtype_name(weight.dtype()), "float32");
  check_argument(weight.dim() == 2 && weight.numel() > 0, where, "weight.shape",
                 shape_to_string(weight.shape()), "a non-empty 2-d [out, in] shape");
  for (const float w : weight.span<float>()) {
    check_argument(std::isfinite(w), where, "weight", w, "finite values");
  }
  ApotObserver observer(b, k);
  observer.observe(weight);
  ApotCodeLinear layer;
  layer.qparams = observer.calculate_qparams(false);
  layer.weight_codes = ApotQuantizer(layer.qparams).quantize(weight);
  return layer;
}

Tensor apot_code_linear(const Tensor& activation, const Tensor& weight_codes) {
  constexpr const char* where = "apot_code_linear";
  check_argument(activation.dtype() == DType::Float32, where, "activation.dtype",
                 dtype_name(activation.dtype()), "float32");
  check_argument(weight_codes.dtype() == DType::Int32, where, "weight_codes.dtype",
                 dtype_name(weight_codes.dtype()), "int32");
  check_argument(weight_codes.dim() == 2, where, "weight_codes.shape",
                 shape_to_string(weight_codes.shape()), "a 2-d [out, in] shape");
  const std::int64_t out_features = weight_codes.size(0), in_features = weight_codes.size(1);
  check_argument(activation.dim() == 2 && activation.size(1) >= in_features, where,
                 "activation.shape", shape_to_string(activation.shape()),
                 "a 2-d [m, in'] shape with in' >= " + std::to_string(in_features));
  const std::int64_t m = activation.size(0), stride = activation.size(1);
  const float* a = activation.data<float>();
  const std::int32_t* w = weight_codes.data<std::int32_t>();
  // PyTorch takes int(activation) (truncation) once per product; do it once per element.
  std::vector<std::int64_t> ints(static_cast<std::size_t>(m * in_features));
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t kk = 0; kk < in_features; ++kk) {
      const float v = a[i * stride + kk];
      check_argument(std::isfinite(v) && std::fabs(v) < 2147483648.0f, where,
                     "activation[" + std::to_string(i) + "][" + std::to_string(kk) + "]", v,
                     "a finite value with |trunc(a)| < 2^31");
      ints[static_cast<std::size_t>(i * in_features + kk)] = static_cast<std::int64_t>(v);
    }
  }
  Tensor out = Tensor::zeros({m, out_features}, DType::Float32);
  float* o = out.data<float>();
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < out_features; ++j) {
      float acc = 0.0f;
      for (std::int64_t kk = 0; kk < in_features; ++kk) {
        // Python multiplies exact integers; `result[i][j] += product` then converts the
        // product to float32 and adds in float32.
        const std::int64_t product =
            ints[static_cast<std::size_t>(i * in_features + kk)] * w[j * in_features + kk];
        acc += static_cast<float>(product);
      }
      o[i * out_features + j] = acc;
    }
  }
  return out;
}

}  // namespace quantkit::apot
