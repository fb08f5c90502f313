#include "fused_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "thread_pool.h"
#include "quantkit/kernels/grouped_linear.h"
#include "quantkit/quant/choose_qparams.h"
#include "quantkit/quant/per_token.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::runtime::detail {
namespace {

using graph::Node;
using graph::OpKind;

constexpr std::int64_t kMinMacsPerChunk = 1 << 16;

std::byte* bytes(Tensor& t) { return static_cast<std::byte*>(t.raw_data()); }
const std::byte* bytes(const Tensor& t) { return static_cast<const std::byte*>(t.raw_data()); }

// Non-owning [rows, cols] view starting at row `row` of a row-major buffer.
Tensor rows_view(const Tensor& t, std::int64_t row, std::int64_t rows, std::int64_t cols) {
  const std::size_t offset = static_cast<std::size_t>(row * cols) * dtype_size(t.dtype());
  return Tensor::from_blob(const_cast<std::byte*>(bytes(t)) + offset, {rows, cols}, t.dtype());
}

// out2d[m, n] = qlinear(x2d[m, k]) with rows split across threads (rows are independent).
void qlinear_rows(const Tensor& x2d, std::int32_t x_zp, const kernels::PackedWeights& w,
                  const kernels::Epilogue& epilogue, const std::optional<Tensor>& bias,
                  Tensor& out2d, ThreadPool& pool) {
  const std::int64_t m = x2d.shape()[0], k = w.k(), n = w.n();
  const std::int64_t min_rows =
      std::max<std::int64_t>(1, kMinMacsPerChunk / std::max<std::int64_t>(1, n * k));
  pool.parallel_for(m, min_rows, [&](std::int64_t begin, std::int64_t end) {
    const Tensor y =
        kernels::qlinear(rows_view(x2d, begin, end - begin, k), x_zp, w, epilogue, bias);
    std::memcpy(bytes(out2d) + static_cast<std::size_t>(begin * n) * dtype_size(out2d.dtype()),
                y.raw_data(), y.nbytes());
  });
}

std::vector<float> floats_of(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}
std::vector<double> doubles_of(const Tensor& t) {
  return std::vector<double>(t.data<double>(), t.data<double>() + t.numel());
}

class DynamicQuantizedLinearOp final : public FusedOp {
 public:
  explicit DynamicQuantizedLinearOp(const Node& n)
      : weights_(n.input(1)->data()),
        weight_scales_(doubles_of(n.input(2)->data())),
        bias_(n.num_inputs() > 3 ? floats_of(n.input(3)->data()) : std::vector<float>{}),
        quant_min_(n.attr_int("quant_min")),
        quant_max_(n.attr_int("quant_max")),
        eps_(static_cast<float>(n.attr_float("eps"))),
        out_shape_(n.output()->shape()) {}

  Tensor run(std::span<const Tensor> in, ThreadPool& pool) const override {
    const Tensor& x = in[0];
    // choose_qparams.tensor, then torchao's decomposed quantize: round(f64(x) / x_scale),
    // + zp, clamp; bias and output in float64 (the reference kernel's arithmetic, see
    // quantized_ops.cpp).
    const DynamicQParams q =
        choose_qparams_tensor(x, QuantRange::of(DType::Int8, quant_min_, quant_max_), eps_,
                              "Runtime::run (dynamic_quantized_linear)");
    const double x_scale = q.scale;
    const std::int64_t x_zp = q.zero_point;
    const float* px = x.data<float>();
    Tensor xq = Tensor::empty(x.shape(), DType::Int8);
    auto* pq = xq.data<std::int8_t>();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const std::int64_t v =
          saturating_trunc_i32(std::nearbyint(static_cast<double>(px[i]) / x_scale)) + x_zp;
      pq[i] = static_cast<std::int8_t>(std::clamp(v, quant_min_, quant_max_));
    }
    const std::int64_t n = weights_.n(), k = weights_.k();
    std::vector<double> combined(static_cast<std::size_t>(n));
    std::vector<std::int32_t> bias_i32(static_cast<std::size_t>(n), 0);
    for (std::int64_t c = 0; c < n; ++c) {
      const double s =
          x_scale * weight_scales_[weight_scales_.size() > 1 ? static_cast<std::size_t>(c) : 0];
      combined[static_cast<std::size_t>(c)] = s;
      if (!bias_.empty()) {
        bias_i32[static_cast<std::size_t>(c)] =
            saturating_trunc_i32(static_cast<double>(bias_[static_cast<std::size_t>(c)]) / s);
      }
    }
    const std::int64_t m = x.numel() / k;
    Tensor acc = Tensor::empty({m, n}, DType::Int32);
    qlinear_rows(rows_view(xq, 0, m, k), static_cast<std::int32_t>(x_zp), weights_,
                 kernels::Int32Epilogue{}, Tensor::from_vector(bias_i32), acc, pool);
    Tensor out = Tensor::empty(out_shape_, DType::Float32);
    const auto* pa = acc.data<std::int32_t>();
    float* po = out.data<float>();
    for (std::int64_t i = 0; i < m * n; ++i) {
      po[i] = static_cast<float>(static_cast<double>(pa[i]) *
                                 combined[static_cast<std::size_t>(i % n)]);
    }
    return out;
  }

 private:
  kernels::PackedWeights weights_;
  std::vector<double> weight_scales_;
  std::vector<float> bias_;
  std::int64_t quant_min_, quant_max_;
  float eps_;
  Shape out_shape_;
};

// The per-token dynamic linear (int8-dynamic-per-token, 8da4w): rows quantized in parallel
// (quant/per_token.h), then kernels::grouped_linear over output channels split across threads
// — weights packed once, 4-bit when every weight is in [-8, 7] and the groups are multiples of
// 32 (two per byte), int8 otherwise; the same bits either way.
class PerTokenLinearOp final : public FusedOp {
 public:
  explicit PerTokenLinearOp(const Node& n)
      : weights_(pack(n)),
        bias_(n.num_inputs() > 3 ? floats_of(n.input(3)->data()) : std::vector<float>{}),
        range_(QuantRange::of(DType::Int8, n.attr_int("quant_min"), n.attr_int("quant_max"))),
        eps_(static_cast<float>(n.attr_float("eps"))),
        out_shape_(n.output()->shape()) {}

  Tensor run(std::span<const Tensor> in, ThreadPool& pool) const override {
    const Tensor& x = in[0];
    const std::int64_t k = weights_.k(), n = weights_.n(), rows = x.numel() / k;
    Tensor out = Tensor::empty(out_shape_, DType::Float32);
    if (rows == 0) return out;
    Tensor xq = Tensor::empty({rows, k}, DType::Int8);
    std::vector<float> scales(static_cast<std::size_t>(rows));
    std::vector<std::int32_t> zps(static_cast<std::size_t>(rows));
    const std::int64_t min_rows = std::max<std::int64_t>(1, kMinMacsPerChunk / (k * 64));
    pool.parallel_for(rows, min_rows, [&](std::int64_t begin, std::int64_t end) {
      quantize_rows_per_token(x.data<float>() + begin * k, end - begin, k, range_, eps_,
                              xq.data<std::int8_t>() + begin * k, scales.data() + begin,
                              zps.data() + begin, "Runtime::run (dynamic_quantized_linear_per_token)");
    });
    const kernels::PerTokenInput input{xq.data<std::int8_t>(), rows, scales, zps};
    const std::int64_t min_channels =
        std::max<std::int64_t>(1, kMinMacsPerChunk / std::max<std::int64_t>(1, rows * k));
    pool.parallel_for(n, min_channels, [&](std::int64_t begin, std::int64_t end) {
      kernels::grouped_linear(weights_, input, bias_, out.data<float>(), begin, end);
    });
    return out;
  }

 private:
  static kernels::GroupedWeights pack(const Node& n) {
    const Tensor& w = n.input(1)->data();
    const Tensor& s = n.input(2)->data();
    const std::int64_t group_size = n.attr_int("group_size");
    const auto values = w.span<const std::int8_t>();
    const bool four_bit = group_size % kernels::GroupedWeights::kChunk == 0 &&
                          std::all_of(values.begin(), values.end(),
                                      [](std::int8_t v) { return v >= -8 && v <= 7; });
    return kernels::GroupedWeights::pack(values, s.span<const float>(), w.shape()[0],
                                         w.shape()[1], group_size, four_bit ? 4 : 8);
  }

  kernels::GroupedWeights weights_;
  std::vector<float> bias_;
  QuantRange range_;
  float eps_;
  Shape out_shape_;
};

bool weights_are_data(const Node& n, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i < std::min(last, n.num_inputs()); ++i) {
    if (!n.input(i)->has_data()) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<FusedOp> plan_fused_op(const Node& n) {
  // The static fused ops run on the NHWC / GEMM kernels of exec_ops.h; what is left here is
  // the dynamic linear (its input quantization needs the whole input's min/max).
  if (n.op() == OpKind::DynamicQuantizedLinearPerToken) {
    if (!weights_are_data(n, 1, 4) || n.input(1)->shape()[1] == 0) return nullptr;
    return std::make_unique<PerTokenLinearOp>(n);
  }
  if (n.op() != OpKind::DynamicQuantizedLinear) return nullptr;
  if (!weights_are_data(n, 1, 4) || n.input(1)->shape()[1] == 0) return nullptr;
  return std::make_unique<DynamicQuantizedLinearOp>(n);
}

}  // namespace quantkit::runtime::detail
