#include "fused_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "parallel.h"
#include "quantkit/quant/choose_qparams.h"
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
                  Tensor& out2d, int threads) {
  const std::int64_t m = x2d.shape()[0], k = w.k(), n = w.n();
  const std::int64_t min_rows =
      std::max<std::int64_t>(1, kMinMacsPerChunk / std::max<std::int64_t>(1, n * k));
  parallel_for(m, threads, min_rows, [&](std::int64_t begin, std::int64_t end) {
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

// The requantization of quantized_linear / quantized_conv2d (see quantized_ops.cpp):
// clamp(int32(trunc(f64(acc) * m[c])) + zp), the + zp in int32. The GEMM's RequantEpilogue
// multiplies in float32, so the int32 accumulators are requantized here in float64.
struct Requant {
  std::vector<double> multiplier;  // 1 or N
  std::int32_t zero_point = 0, quant_min = 0, quant_max = 0;

  // Multipliers are finite and > 0 (checked at planning), so the product is never NaN and
  // clamping it to the int32 range before the conversion is the saturating truncation.
  static std::uint8_t one(std::int32_t acc, double m, std::int32_t zp, std::int32_t lo,
                          std::int32_t hi) {
    const double v = std::min(std::max(static_cast<double>(acc) * m, -2147483648.0), 2147483647.0);
    const auto shifted = static_cast<std::int32_t>(
        static_cast<std::uint32_t>(static_cast<std::int32_t>(v)) + static_cast<std::uint32_t>(zp));
    // int8 and uint8 share the byte: the clamped value's low 8 bits are its encoding.
    return static_cast<std::uint8_t>(std::min(std::max(shifted, lo), hi));
  }

  // out[r * n + c] = requant(acc[r * n + c], channel c) for `rows` rows of n channels.
  void rows(const std::int32_t* acc, std::int64_t rows, std::int64_t n, std::uint8_t* out) const {
    const bool per_channel = multiplier.size() > 1;
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int32_t* a = acc + r * n;
      std::uint8_t* o = out + r * n;
      if (per_channel) {
        for (std::int64_t c = 0; c < n; ++c) {
          o[c] =
              one(a[c], multiplier[static_cast<std::size_t>(c)], zero_point, quant_min, quant_max);
        }
      } else {
        const double m = multiplier[0];
        for (std::int64_t c = 0; c < n; ++c) o[c] = one(a[c], m, zero_point, quant_min, quant_max);
      }
    }
  }
};

Requant requant_of(const Node& n, std::vector<double> multipliers) {
  return Requant{std::move(multipliers), static_cast<std::int32_t>(n.attr_int("out_zero_point")),
                 static_cast<std::int32_t>(n.attr_int("quant_min")),
                 static_cast<std::int32_t>(n.attr_int("quant_max"))};
}

class QuantizedLinearOp final : public FusedOp {
 public:
  QuantizedLinearOp(const Node& n, std::vector<double> multipliers)
      : weights_(n.input(1)->data()),
        bias_(n.input(2)->data().clone()),
        requant_(requant_of(n, std::move(multipliers))),
        x_zero_point_(static_cast<std::int32_t>(n.attr_int("x_zero_point"))),
        out_type_(n.output()->type()) {}

  Tensor run(std::span<const Tensor> in, int threads) const override {
    const Tensor& x = in[0];
    Tensor out = Tensor::empty(out_type_.shape, out_type_.dtype);
    const std::int64_t k = weights_.k(), n = weights_.n();  // k > 0 (planned only then)
    const std::int64_t m = x.numel() / k;
    auto* po = reinterpret_cast<std::uint8_t*>(out.raw_data());
    const std::int64_t min_rows =
        std::max<std::int64_t>(1, kMinMacsPerChunk / std::max<std::int64_t>(1, n * k));
    parallel_for(m, threads, min_rows, [&](std::int64_t begin, std::int64_t end) {
      const Tensor acc = kernels::qlinear(rows_view(x, begin, end - begin, k), x_zero_point_,
                                          weights_, kernels::Int32Epilogue{}, bias_);
      requant_.rows(acc.data<std::int32_t>(), end - begin, n, po + begin * n);
    });
    return out;
  }

 private:
  kernels::PackedWeights weights_;
  std::optional<Tensor> bias_;
  Requant requant_;
  std::int32_t x_zero_point_;
  graph::TensorType out_type_;
};

class QuantizedConv2dOp final : public FusedOp {
 public:
  QuantizedConv2dOp(const Node& n, const std::vector<double>& multipliers)
      : x_zero_point_(static_cast<std::int32_t>(n.attr_int("x_zero_point"))),
        out_type_(n.output()->type()) {
    const Tensor& w = n.input(1)->data();
    const auto& stride = n.attr_ints("stride");
    const auto& padding = n.attr_ints("padding");
    const auto& dilation = n.attr_ints("dilation");
    for (int i = 0; i < 2; ++i) {
      stride_[i] = stride[static_cast<std::size_t>(i)];
      padding_[i] = padding[static_cast<std::size_t>(i)];
      dilation_[i] = dilation[static_cast<std::size_t>(i)];
    }
    groups_ = n.attr_int("groups");
    out_channels_ = w.shape()[0];
    group_in_ = w.shape()[1];
    kernel_[0] = w.shape()[2];
    kernel_[1] = w.shape()[3];
    const std::int64_t og = out_channels_ / groups_;
    const std::int64_t kg = group_in_ * kernel_[0] * kernel_[1];
    const Tensor& bias = n.input(2)->data();
    for (std::int64_t g = 0; g < groups_; ++g) {
      const Tensor slice = Tensor::from_blob(
          const_cast<std::byte*>(bytes(w)) + static_cast<std::size_t>(g * og * kg), {og, kg},
          DType::Int8);
      std::vector<std::int32_t> b(bias.data<std::int32_t>() + g * og,
                                  bias.data<std::int32_t>() + (g + 1) * og);
      std::vector<double> m = multipliers.size() == 1
                                  ? multipliers
                                  : std::vector<double>(multipliers.begin() + g * og,
                                                        multipliers.begin() + (g + 1) * og);
      groups_data_.push_back(Group{kernels::PackedWeights(slice), Tensor::from_vector(b),
                                   requant_of(n, std::move(m))});
    }
  }

  Tensor run(std::span<const Tensor> in, int threads) const override {
    const Tensor& x = in[0];
    Tensor out = Tensor::empty(out_type_.shape, out_type_.dtype);
    const std::int64_t batch = x.shape()[0], channels = x.shape()[1];
    const std::int64_t h = x.shape()[2], w = x.shape()[3];
    const std::int64_t oh = out_type_.shape[2], ow = out_type_.shape[3];
    const std::int64_t pixels = oh * ow;
    const std::int64_t og = out_channels_ / groups_;
    const std::int64_t kg = group_in_ * kernel_[0] * kernel_[1];
    if (out.numel() == 0) return out;
    // Both int8 and uint8 are single bytes: im2col copies bytes, padding is x_zp's byte.
    const auto pad = static_cast<std::uint8_t>(x_zero_point_);
    const auto* px = reinterpret_cast<const std::uint8_t*>(x.raw_data());
    auto* po = reinterpret_cast<std::uint8_t*>(out.raw_data());
    const std::int64_t min_rows =
        std::max<std::int64_t>(1, kMinMacsPerChunk / std::max<std::int64_t>(1, og * kg));
    for (std::int64_t b = 0; b < batch; ++b) {
      for (std::int64_t g = 0; g < groups_; ++g) {
        const Group& grp = groups_data_[static_cast<std::size_t>(g)];
        parallel_for(pixels, threads, min_rows, [&](std::int64_t begin, std::int64_t end) {
          const std::int64_t rows = end - begin;
          // One buffer for the im2col rows and, after the GEMM, the requantized bytes.
          Tensor buffer = Tensor::empty({rows * std::max(kg, og)}, x.dtype());
          auto* pc = reinterpret_cast<std::uint8_t*>(buffer.raw_data());
          const Tensor cols = Tensor::from_blob(pc, {rows, kg}, x.dtype());
          const std::int64_t kh = kernel_[0], kw = kernel_[1];
          for (std::int64_t p = begin; p < end; ++p) {
            const std::int64_t y0 = (p / ow) * stride_[0] - padding_[0];
            const std::int64_t x0 = (p % ow) * stride_[1] - padding_[1];
            // The kernel row lies inside the image: one copy per kernel row (dilation 1).
            const bool row_inside = x0 >= 0 && x0 + (kw - 1) * dilation_[1] < w;
            std::uint8_t* row = pc + (p - begin) * kg;
            for (std::int64_t c = 0; c < group_in_; ++c) {
              const std::uint8_t* plane = px + ((b * channels) + g * group_in_ + c) * h * w;
              for (std::int64_t i = 0; i < kh; ++i, row += kw) {
                const std::int64_t yy = y0 + i * dilation_[0];
                if (yy < 0 || yy >= h) {
                  std::memset(row, pad, static_cast<std::size_t>(kw));
                } else if (row_inside && dilation_[1] == 1) {
                  std::memcpy(row, plane + yy * w + x0, static_cast<std::size_t>(kw));
                } else {
                  for (std::int64_t j = 0; j < kw; ++j) {
                    const std::int64_t xx = x0 + j * dilation_[1];
                    row[j] = (xx >= 0 && xx < w) ? plane[yy * w + xx] : pad;
                  }
                }
              }
            }
          }
          const Tensor acc = kernels::qlinear(cols, x_zero_point_, grp.weights,
                                              kernels::Int32Epilogue{}, grp.bias);
          // acc is [rows, og] (pixel-major); the output is channel-major: requantize into
          // the (reused) im2col buffer, then transpose the bytes.
          std::uint8_t* q = pc;
          grp.requant.rows(acc.data<std::int32_t>(), rows, og, q);
          for (std::int64_t o = 0; o < og; ++o) {
            std::uint8_t* dst = po + ((b * out_channels_) + g * og + o) * pixels + begin;
            for (std::int64_t r = 0; r < rows; ++r) dst[r] = q[r * og + o];
          }
        });
      }
    }
    return out;
  }

 private:
  struct Group {
    kernels::PackedWeights weights;
    std::optional<Tensor> bias;
    Requant requant;
  };
  std::int32_t x_zero_point_;
  graph::TensorType out_type_;
  std::int64_t stride_[2]{}, padding_[2]{}, dilation_[2]{}, kernel_[2]{};
  std::int64_t groups_ = 1, out_channels_ = 0, group_in_ = 0;
  std::vector<Group> groups_data_;
};

class QuantizedAddOp final : public FusedOp {
 public:
  QuantizedAddOp(QAddParams p, graph::TensorType out_type)
      : p_(p), out_type_(std::move(out_type)) {}

  Tensor run(std::span<const Tensor> in, int threads) const override {
    Tensor out = Tensor::empty(out_type_.shape, out_type_.dtype);
    const auto* a = bytes(in[0]);
    const auto* b = bytes(in[1]);
    auto* o = bytes(out);
    parallel_for(out.numel(), threads, std::int64_t{1} << 14,
                 [&](std::int64_t begin, std::int64_t end) {
                   qadd(a + begin, b + begin, o + begin, end - begin, p_);
                 });
    return out;
  }

 private:
  QAddParams p_;
  graph::TensorType out_type_;
};

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

  Tensor run(std::span<const Tensor> in, int threads) const override {
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
                 kernels::Int32Epilogue{}, Tensor::from_vector(bias_i32), acc, threads);
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

bool weights_are_data(const Node& n, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i < std::min(last, n.num_inputs()); ++i) {
    if (!n.input(i)->has_data()) return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<FusedOp> plan_fused_op(const Node& n) {
  switch (n.op()) {
    case OpKind::QuantizedLinear:
    case OpKind::QuantizedConv2d: {
      // Empty weights (no reduction) stay with the reference kernel.
      if (!weights_are_data(n, 1, 4) || n.input(1)->data().numel() == 0) return nullptr;
      std::vector<double> m = doubles_of(n.input(3)->data());
      // Non-finite or non-positive multipliers stay with the reference kernel.
      for (double v : m) {
        if (!(v > 0 && v <= std::numeric_limits<double>::max())) return nullptr;
      }
      if (n.op() == OpKind::QuantizedLinear)
        return std::make_unique<QuantizedLinearOp>(n, std::move(m));
      return std::make_unique<QuantizedConv2dOp>(n, m);
    }
    case OpKind::QuantizedAdd: {
      if (n.input(0)->shape() != n.input(1)->shape()) return nullptr;  // broadcasting: reference
      QAddParams p;
      p.a_zero_point = static_cast<std::int32_t>(n.attr_int("a_zero_point"));
      p.b_zero_point = static_cast<std::int32_t>(n.attr_int("b_zero_point"));
      p.out_zero_point = static_cast<std::int32_t>(n.attr_int("out_zero_point"));
      p.a_multiplier = n.attr_float("a_multiplier");
      p.b_multiplier = n.attr_float("b_multiplier");
      p.quant_min = static_cast<std::int32_t>(n.attr_int("quant_min"));
      p.quant_max = static_cast<std::int32_t>(n.attr_int("quant_max"));
      p.half_even = n.attr_string("rounding") == "half_even";
      p.dtype = n.attr_dtype("dtype");
      if (!qadd_supported(p)) return nullptr;
      return std::make_unique<QuantizedAddOp>(p, n.output()->type());
    }
    case OpKind::DynamicQuantizedLinear:
      if (!weights_are_data(n, 1, 4) || n.input(1)->shape()[1] == 0) return nullptr;
      return std::make_unique<DynamicQuantizedLinearOp>(n);
    default:
      return nullptr;
  }
}

}  // namespace quantkit::runtime::detail
