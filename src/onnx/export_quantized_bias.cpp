// The bias of a statically quantized Conv / Gemm as ONNX Runtime's quantizer writes it: int32
// through a DequantizeLinear with scale x_scale · w_scale (per output channel) and zero point
// 0. ORT's QDQ selectors fuse DequantizeLinear → Conv/Gemm → QuantizeLinear into QLinearConv /
// QGemm only when the bias has this form; with a float bias the convolution runs in float32
// between a dequantize and a quantize.
//
// The integers are kernels::quantize_bias(bias, x_scale, w_scale) on the graph's own (float64)
// scales, exactly what lower_to_fused_kernels computes from the float bias, so export →
// import → lower gives the same fused ops (the lowering takes such a bias as it is:
// int32_bias() in src/pt2e/lowering.cpp). The scale written is float32(x_scale · w_scale).
// ORT's quantize_static rounds the same quotient in float32 (docs/onnx.md).
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "export_context.h"
#include "quantkit/kernels/requantize.h"

namespace quantkit::onnx::export_detail {
namespace {

using graph::Node;
using graph::OpKind;
using graph::Value;

// The scale of a statically dequantized activation (per tensor, qparams in attributes).
std::optional<double> activation_scale(const Value& x) {
  const Node* dq = x.producer();
  if (dq == nullptr || dq->op() != OpKind::DequantizePerTensor || dq->num_inputs() != 1) {
    return std::nullopt;
  }
  return dq->attr_float("scale");
}

// The per-output-channel scales of a dequantized weight (one value when per tensor).
std::optional<std::vector<double>> weight_scales(const Value& w) {
  const Node* dq = w.producer();
  if (dq == nullptr) return std::nullopt;
  if (dq->op() == OpKind::DequantizePerTensor && dq->num_inputs() == 1) {
    return std::vector<double>{dq->attr_float("scale")};
  }
  if (dq->op() != OpKind::DequantizePerChannel || dq->attr_int("axis") != 0 ||
      !dq->input(1)->has_data() || dq->input(1)->shape().size() != 1) {
    return std::nullopt;
  }
  return dq->input(1)->data().to(DType::Float64).to_vector<double>();
}

}  // namespace

std::string bias_operand(ExportContext& ctx, const Node& node) {
  const Value* bias = node.input(2);
  const auto x_scale = activation_scale(*node.input(0));
  const auto w_scales = weight_scales(*node.input(1));
  const std::int64_t channels = node.input(1)->shape()[0];
  if (!x_scale || !w_scales || !bias->has_data() || bias->dtype() != DType::Float32 ||
      bias->shape() != Shape{channels} ||
      (w_scales->size() != 1 && static_cast<std::int64_t>(w_scales->size()) != channels)) {
    return ctx.use(bias);
  }
  const auto* b = bias->data().data<float>();
  std::vector<std::int32_t> q(static_cast<std::size_t>(channels));
  std::vector<float> scales;
  for (std::size_t c = 0; c < q.size(); ++c) {
    const double w_scale = (*w_scales)[w_scales->size() == 1 ? 0 : c];
    const double product = *x_scale * w_scale;
    // A product float32 cannot hold as a normal number would make the file's scale disagree
    // with the integers: keep the float bias then.
    if (!(product >= std::numeric_limits<float>::min() &&
          product <= std::numeric_limits<float>::max())) {
      return ctx.use(bias);
    }
    q[c] = kernels::quantize_bias(b[c], *x_scale, w_scale);
    if (c < w_scales->size()) scales.push_back(static_cast<float>(product));
  }
  const bool per_channel = scales.size() > 1;
  const std::string hint = node.name() + "_bias";
  const std::string scale = ctx.add_initializer(
      per_channel ? Tensor::from_vector(scales) : Tensor::scalar<float>(scales[0]),
      hint + "_scale");
  const std::string zero_point = ctx.add_initializer(
      per_channel ? Tensor::from_vector(std::vector<std::int32_t>(scales.size(), 0))
                  : Tensor::scalar<std::int32_t>(0),
      hint + "_zero_point");
  const std::string quantized = ctx.add_initializer(Tensor::from_vector(q), hint + "_i32");
  const std::string dequantized = ctx.fresh_name(hint + "_dequantized");
  auto* dq = ctx.add_node("DequantizeLinear", {quantized, scale, zero_point}, {dequantized},
                          ctx.fresh_name(hint + "_dequantize"));
  if (per_channel) set_attr(dq, "axis", std::int64_t{0});
  return dequantized;
}

}  // namespace quantkit::onnx::export_detail
