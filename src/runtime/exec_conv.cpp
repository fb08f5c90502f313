// quantized_conv2d and quantized_linear on the NHWC kernels: dense and grouped convolutions
// through kernels::QConv2dNhwc (a GEMM over pixels for 1×1, gathered tiles otherwise),
// depthwise ones through kernels::DepthwiseConv2d, linear layers as a 1×1 convolution over
// their rows. Threads split output pixels; every pixel's bits are independent of the split.
#include <algorithm>
#include <limits>
#include <span>
#include <string_view>

#include "exec_ops.h"
#include "quantkit/kernels/conv_nhwc.h"
#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/dwconv.h"
#include "quantkit/kernels/gemv.h"

namespace quantkit::runtime::detail {
namespace {

using graph::Node;

// Output pixels per chunk: enough multiply-adds that a thread hand-off pays for itself.
std::int64_t min_pixels(std::int64_t macs_per_pixel) {
  constexpr std::int64_t kMinMacsPerChunk = 1 << 17;
  return std::max<std::int64_t>(1, kMinMacsPerChunk / std::max<std::int64_t>(1, macs_per_pixel));
}

std::vector<float> multipliers_of(const Node& n) {
  const Tensor& m = n.input(3)->data();
  return std::vector<float>(m.data<float>(), m.data<float>() + m.numel());
}

bool usable_multipliers(const std::vector<float>& m) {
  return std::all_of(m.begin(), m.end(), [](float v) {
    return v > 0 && v <= std::numeric_limits<float>::max();
  });
}

class DenseConvOp final : public ExecOp {
 public:
  DenseConvOp(kernels::QConv2dNhwc conv, std::int64_t batch, std::int64_t h, std::int64_t w)
      : conv_(std::move(conv)) {
    conv_.setup(batch, h, w);
    scratch_bytes_per_thread = conv_.scratch_bytes_per_thread();
    const auto& p = conv_.params();
    macs_per_pixel_ = p.kernel_h * p.kernel_w * (p.in_channels / p.groups) * p.out_channels;
  }
  bool pointwise() const { return conv_.is_pointwise(); }
  void run(Frame& f) const override {
    const std::byte* x = f.in(inputs[0]);
    std::byte* y = f.out(outputs[0]);
    const auto& p = conv_.params();
    const std::int64_t pixels = conv_.output_pixels();
    constexpr std::int64_t kTile = kernels::QConv2dNhwc::kChannelTile;
    const std::int64_t tiles = (p.out_channels + kTile - 1) / kTile;
    // Few pixels, many channels (resnet's 14×14 and 7×7 stages): split output channels, so
    // each thread streams only its share of the weights instead of all of them.
    if (p.groups == 1 && pixels < p.out_channels && tiles >= 2 && f.pool().num_threads() > 1) {
      f.pool().parallel_for(tiles, 1, [&](std::int64_t begin, std::int64_t end, int chunk) {
        conv_.run(x, y, 0, pixels, begin * kTile, std::min(p.out_channels, end * kTile),
                  f.scratch(chunk));
      });
      return;
    }
    f.pool().parallel_for(pixels, min_pixels(macs_per_pixel_),
                          [&](std::int64_t begin, std::int64_t end, int chunk) {
                            conv_.run(x, y, begin, end, f.scratch(chunk));
                          });
  }

 private:
  kernels::QConv2dNhwc conv_;
  std::int64_t macs_per_pixel_ = 0;
};

class DepthwiseConvOp final : public ExecOp {
 public:
  DepthwiseConvOp(kernels::DepthwiseConv2d conv, std::int64_t batch, std::int64_t h,
                  std::int64_t w)
      : conv_(std::move(conv)) {
    conv_.setup(batch, h, w);
    const auto& p = conv_.params();
    macs_per_pixel_ = p.kernel_h * p.kernel_w * p.channels;
  }
  const char* kernel_name() const { return conv_.kernel_name(); }
  void run(Frame& f) const override {
    const std::byte* x = f.in(inputs[0]);
    std::byte* y = f.out(outputs[0]);
    f.pool().parallel_for(conv_.shape().output_pixels(), min_pixels(macs_per_pixel_),
                          [&](std::int64_t begin, std::int64_t end) {
                            conv_.run(x, y, begin, end);
                          });
  }

 private:
  kernels::DepthwiseConv2d conv_;
  std::int64_t macs_per_pixel_ = 0;
};

// A linear layer of one row (batch 1): a GEMV that streams the packed weights once, split
// by 64-channel blocks so each thread reads only its share (kernels/gemv.h; the same
// requantization as the GEMM, so the same bits).
class GemvOp final : public ExecOp {
 public:
  GemvOp(kernels::GemvWeights w, const Node& n, std::vector<float> multipliers)
      : w_(std::move(w)), multipliers_(std::move(multipliers)) {
    const Tensor& b = n.input(2)->data();
    bias_.assign(b.data<std::int32_t>(), b.data<std::int32_t>() + b.numel());
    in_.dtype = n.attr_dtype("dtype");
    in_.zero_point = static_cast<std::int32_t>(n.attr_int("x_zero_point"));
    in_.bias = bias_;
    ep_.multiplier = multipliers_;
    ep_.zero_point = static_cast<std::int32_t>(n.attr_int("out_zero_point"));
    ep_.out_dtype = in_.dtype;
    ep_.quant_min = static_cast<std::int32_t>(n.attr_int("quant_min"));
    ep_.quant_max = static_cast<std::int32_t>(n.attr_int("quant_max"));
  }
  void run(Frame& f) const override {
    kernels::GemvInput in = in_;
    in.x = f.in(inputs[0]);
    std::byte* y = f.out(outputs[0]);
    constexpr std::int64_t kBlock = kernels::GemvWeights::kBlockN;
    // About 256 KiB of weights per chunk before splitting pays.
    const std::int64_t min_blocks =
        std::max<std::int64_t>(1, (std::int64_t{1} << 18) / std::max<std::int64_t>(1, w_.block_bytes()));
    f.pool().parallel_for(w_.num_blocks(), min_blocks, [&](std::int64_t begin, std::int64_t end) {
      kernels::gemv(w_, in, ep_, y, begin * kBlock, std::min(w_.n(), end * kBlock));
    });
  }

 private:
  kernels::GemvWeights w_;
  std::vector<float> multipliers_;
  std::vector<std::int32_t> bias_;
  kernels::GemvInput in_;
  kernels::GemvRequant ep_;
};

// int4 pays once the int8 weights no longer fit in L2 (1024×1024 int8: the 4-bit kernel is
// compute-bound and 0.88× the int8 one; 4096×4096: 1.98×; docs/kernels.md "GEMV").
constexpr std::int64_t kInt4MinWeightBytes = std::int64_t{2} << 20;

bool fits_int4(const Tensor& w) {
  const std::int8_t* v = w.data<std::int8_t>();
  return std::all_of(v, v + w.numel(), [](std::int8_t x) { return x >= -8 && x <= 7; });
}

}  // namespace

std::unique_ptr<ExecOp> make_quantized_conv2d_nhwc(const Node& n, std::size_t in,
                                                   std::size_t out) {
  for (std::size_t i = 1; i < 4; ++i) {
    if (!n.input(i)->has_data()) return nullptr;
  }
  const Tensor& weight = n.input(1)->data();
  if (weight.numel() == 0) return nullptr;
  std::vector<float> multipliers = multipliers_of(n);
  if (!usable_multipliers(multipliers)) return nullptr;
  const Shape& x = n.input(0)->shape();  // logical [N, C, H, W]
  const Shape& w = weight.shape();        // [O, C/groups, kH, kW]
  const auto& stride = n.attr_ints("stride");
  const auto& padding = n.attr_ints("padding");
  const auto& dilation = n.attr_ints("dilation");
  const std::int64_t groups = n.attr_int("groups");
  const DType dtype = n.attr_dtype("dtype");
  const auto x_zp = static_cast<std::int32_t>(n.attr_int("x_zero_point"));
  const auto out_zp = static_cast<std::int32_t>(n.attr_int("out_zero_point"));
  const auto qmin = static_cast<std::int32_t>(n.attr_int("quant_min"));
  const auto qmax = static_cast<std::int32_t>(n.attr_int("quant_max"));
  const Tensor& bias = n.input(2)->data();
  std::unique_ptr<ExecOp> op;
  const bool depthwise = groups == x[1] && groups == w[0] && w[1] == 1 && groups > 1;
  if (depthwise) {
    kernels::DwConvParams p;
    p.channels = groups;
    set_window(p, n, w[2], w[3]);
    p.dtype = dtype;
    p.input_zero_point = x_zp;
    p.weight_zero_point = 0;
    p.output_zero_point = out_zp;
    p.qmin = qmin;
    p.qmax = qmax;
    p.multiplier = std::move(multipliers);
    kernels::DepthwiseConv2d conv(
        std::move(p),
        std::span<const std::int8_t>(weight.data<std::int8_t>(),
                                     static_cast<std::size_t>(weight.numel())),
        std::span<const std::int32_t>(bias.data<std::int32_t>(),
                                      static_cast<std::size_t>(bias.numel())));
    auto dw = std::make_unique<DepthwiseConvOp>(std::move(conv), x[0], x[2], x[3]);
    dw->label = "quantized_conv2d '" + n.name() + "' (nhwc depthwise " + dw->kernel_name() + ")";
    op = std::move(dw);
  } else {
    kernels::QConv2dNhwcParams p;
    p.in_channels = x[1];
    p.out_channels = w[0];
    p.kernel_h = w[2];
    p.kernel_w = w[3];
    p.stride_h = stride[0];
    p.stride_w = stride[1];
    p.pad_top = p.pad_bottom = padding[0];
    p.pad_left = p.pad_right = padding[1];
    p.dilation_h = dilation[0];
    p.dilation_w = dilation[1];
    p.groups = groups;
    p.x_dtype = p.y_dtype = dtype;
    p.x_zero_point = x_zp;
    p.y_zero_point = out_zp;
    p.quant_min = qmin;
    p.quant_max = qmax;
    p.multiplier = std::move(multipliers);
    kernels::QConv2dNhwc conv(std::move(p), weight, bias);
    auto dense = std::make_unique<DenseConvOp>(std::move(conv), x[0], x[2], x[3]);
    dense->label = "quantized_conv2d '" + n.name() + "' (nhwc " +
                   (dense->pointwise() ? "gemm" : "gathered gemm") + ")";
    op = std::move(dense);
  }
  op->inputs = {in};
  op->outputs = {out};
  return op;
}

std::unique_ptr<ExecOp> make_quantized_linear(const Node& n, std::size_t in, std::size_t out) {
  for (std::size_t i = 1; i < 4; ++i) {
    if (!n.input(i)->has_data()) return nullptr;
  }
  const Tensor& weight = n.input(1)->data();  // [N, K]
  if (weight.numel() == 0) return nullptr;
  std::vector<float> multipliers = multipliers_of(n);
  if (!usable_multipliers(multipliers)) return nullptr;
  const std::int64_t k = weight.shape()[1];
  const std::int64_t rows = n.input(0)->type().numel() / k;
  if (rows == 1) {
    // The GEMV beats the tiled GEMM at M = 1 with VNNI (int8: 2-25%; 4-bit weights: 1.9× on
    // weights beyond the caches, also at the AVX-512BW level: 1.46×); elsewhere the GEMM.
    const bool vnni = std::string_view(kernels::active_gemv_kernel()).find("vnni") !=
                      std::string_view::npos;
    const bool int4 = weight.numel() >= kInt4MinWeightBytes && fits_int4(weight) &&
                      kernels::active_isa() == kernels::IsaLevel::Avx512;
    if (vnni || int4) {
      const std::span<const std::int8_t> values(weight.data<std::int8_t>(),
                                                static_cast<std::size_t>(weight.numel()));
      const std::int64_t out_channels = weight.shape()[0];
      auto op = std::make_unique<GemvOp>(
          int4 ? kernels::GemvWeights::pack_int4(values, out_channels, k)
               : kernels::GemvWeights::pack_int8(values, out_channels, k),
          n, std::move(multipliers));
      op->inputs = {in};
      op->outputs = {out};
      op->label = "quantized_linear '" + n.name() + "' (gemv " + (int4 ? "int4 " : "int8 ") +
                  kernels::active_gemv_kernel() + ")";
      return op;
    }
  }
  kernels::QConv2dNhwcParams p;
  p.in_channels = k;
  p.out_channels = weight.shape()[0];
  p.x_dtype = p.y_dtype = n.attr_dtype("dtype");
  p.x_zero_point = static_cast<std::int32_t>(n.attr_int("x_zero_point"));
  p.y_zero_point = static_cast<std::int32_t>(n.attr_int("out_zero_point"));
  p.quant_min = static_cast<std::int32_t>(n.attr_int("quant_min"));
  p.quant_max = static_cast<std::int32_t>(n.attr_int("quant_max"));
  p.multiplier = std::move(multipliers);
  // The weight as a 1×1 kernel [N, K, 1, 1] over the rows seen as one image row of pixels.
  const Tensor kernel = weight.reshape({weight.shape()[0], k, 1, 1});
  kernels::QConv2dNhwc conv(std::move(p), kernel, n.input(2)->data());
  auto op = std::make_unique<DenseConvOp>(std::move(conv), 1, 1, rows);
  op->inputs = {in};
  op->outputs = {out};
  op->label = "quantized_linear '" + n.name() + "' (gemm)";
  return op;
}

}  // namespace quantkit::runtime::detail
