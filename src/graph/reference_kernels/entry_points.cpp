#include "entry_points.h"

#include <optional>
#include <string>

#include "quantkit/core/error.h"
#include "quantkit/graph/fused_op_params.h"
#include "quantkit/kernels/apot_kernels.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/choose_qparams.h"
#include "quantkit/quant/per_token.h"
#include "quantkit/quant/qparams.h"
#include "reference_ops.h"

namespace quantkit::graph::kernel {
namespace {

Outputs one(Tensor t) {
  Outputs out;
  out.push_back(std::move(t));
  return out;
}

ref::ConvParams conv_params(const Node& n) {
  ref::ConvParams p;
  const auto& stride = n.attr_ints("stride");
  const auto& padding = n.attr_ints("padding");
  const auto& dilation = n.attr_ints("dilation");
  for (std::size_t d = 0; d < 2; ++d) {
    p.stride[d] = stride[d];
    p.padding[d] = padding[d];
    p.dilation[d] = dilation[d];
  }
  p.groups = n.attr_int("groups");
  return p;
}

ref::PoolParams pool_params(const Node& n, bool has_dilation) {
  ref::PoolParams p;
  const auto& kernel = n.attr_ints("kernel_size");
  const auto& stride = n.attr_ints("stride");
  const auto& padding = n.attr_ints("padding");
  for (std::size_t d = 0; d < 2; ++d) {
    p.kernel[d] = kernel[d];
    p.stride[d] = stride[d];
    p.padding[d] = padding[d];
    p.dilation[d] = has_dilation ? n.attr_ints("dilation")[d] : 1;
  }
  p.ceil_mode = n.attr_int("ceil_mode") != 0;
  return p;
}

std::optional<double> optional_float(const Node& n, std::string_view name) {
  return n.has_attr(name) ? std::optional<double>(n.attr_float(name)) : std::nullopt;
}

const Tensor* optional_input(Inputs inputs, std::size_t i) {
  return i < inputs.size() ? &inputs[i] : nullptr;
}

QuantRange range_of(const Node& n) {
  return QuantRange::of(n.attr_dtype("dtype"), n.attr_int("quant_min"), n.attr_int("quant_max"));
}

double scalar_as_double(const Tensor& t) {
  return visit_dtype(t.dtype(),
                     [&](auto zero) { return static_cast<double>(t.data<decltype(zero)>()[0]); });
}
std::int64_t scalar_as_int(const Tensor& t) {
  return visit_dtype(
      t.dtype(), [&](auto zero) { return static_cast<std::int64_t>(t.data<decltype(zero)>()[0]); });
}

// Per-tensor qparams from the attributes or from the 1-element scale /
// zero_point inputs.
std::pair<double, std::int64_t> per_tensor_qparams(const Node& n, Inputs in) {
  if (in.size() == 3) return {scalar_as_double(in[1]), scalar_as_int(in[2])};
  return {n.attr_float("scale"), n.attr_int("zero_point")};
}

ref::QuantizedParams quantized_params(const Node& n) {
  ref::QuantizedParams p;
  p.x_zero_point = n.attr_int("x_zero_point");
  p.out_zero_point = n.attr_int("out_zero_point");
  p.quant_min = n.attr_int("quant_min");
  p.quant_max = n.attr_int("quant_max");
  p.dtype = n.attr_dtype("dtype");
  return p;
}

}  // namespace

// ---- float32 compute ----
Outputs linear(const Node&, Inputs in) {
  return one(ref::linear_f32(in[0], in[1], optional_input(in, 2)));
}
Outputs conv2d(const Node& n, Inputs in) {
  return one(ref::conv2d_f32(in[0], in[1], optional_input(in, 2), conv_params(n)));
}
Outputs add(const Node&, Inputs in) { return one(ref::binary(ref::BinaryOp::Add, in[0], in[1])); }
Outputs sub(const Node&, Inputs in) { return one(ref::binary(ref::BinaryOp::Sub, in[0], in[1])); }
Outputs mul(const Node&, Inputs in) { return one(ref::binary(ref::BinaryOp::Mul, in[0], in[1])); }
Outputs div(const Node&, Inputs in) { return one(ref::binary(ref::BinaryOp::Div, in[0], in[1])); }
Outputs relu(const Node&, Inputs in) { return one(ref::relu(in[0])); }
Outputs hardtanh(const Node& n, Inputs in) {
  return one(ref::clamp(in[0], n.attr_float("min_val"), n.attr_float("max_val")));
}
Outputs clamp(const Node& n, Inputs in) {
  return one(ref::clamp(in[0], optional_float(n, "min"), optional_float(n, "max")));
}
Outputs max_pool2d(const Node& n, Inputs in) {
  return one(ref::max_pool2d(in[0], pool_params(n, true)));
}
Outputs avg_pool2d(const Node& n, Inputs in) {
  std::optional<std::int64_t> divisor;
  if (n.has_attr("divisor_override")) divisor = n.attr_int("divisor_override");
  return one(
      ref::avg_pool2d(in[0], pool_params(n, false), n.attr_int("count_include_pad") != 0, divisor));
}
Outputs adaptive_avg_pool2d(const Node& n, Inputs in) {
  const auto& size = n.attr_ints("output_size");
  return one(ref::adaptive_avg_pool2d(in[0], size[0], size[1]));
}
Outputs batch_norm(const Node& n, Inputs in) {
  return one(ref::batch_norm(in[0], in[1], in[2], in[3], in[4], n.attr_float("eps")));
}
// Shape-only ops return views (OpTraits::is_view); the interpreter copies
// outputs that could alias.
Outputs flatten(const Node& n, Inputs in) { return one(in[0].reshape(n.output(0)->shape())); }
Outputs reshape(const Node& n, Inputs in) { return one(in[0].reshape(n.output(0)->shape())); }
Outputs transpose(const Node& n, Inputs in) {
  return one(ref::transpose(in[0], n.attr_int("dim0"), n.attr_int("dim1")));
}
Outputs cat(const Node& n, Inputs in) { return one(ref::cat(in, n.attr_int("dim"))); }
Outputs softmax(const Node& n, Inputs in) { return one(ref::softmax(in[0], n.attr_int("dim"))); }

// ---- quantization ----
Outputs quantize_per_tensor(const Node& n, Inputs in) {
  const auto [scale, zp] = per_tensor_qparams(n, in);
  return one(quantkit::quantize_per_tensor(in[0], scale, zp, range_of(n)));
}
Outputs dequantize_per_tensor(const Node& n, Inputs in) {
  const auto [scale, zp] = per_tensor_qparams(n, in);
  return one(quantkit::dequantize_per_tensor(in[0], scale, zp));
}
Outputs quantize_per_channel(const Node& n, Inputs in) {
  return one(quantkit::quantize_per_channel(in[0], to_doubles(in[1]), to_int64s(in[2]),
                                            n.attr_int("axis"), range_of(n)));
}
Outputs dequantize_per_channel(const Node& n, Inputs in) {
  return one(quantkit::dequantize_per_channel(in[0], to_doubles(in[1]), to_int64s(in[2]),
                                              n.attr_int("axis")));
}
// quantized_decomposed.choose_qparams.tensor: scale f64[1] and zero_point
// i64[1].
Outputs choose_qparams(const Node& n, Inputs in) {
  const DynamicQParams q = choose_qparams_tensor(
      in[0], range_of(n), static_cast<float>(n.attr_float("eps")), "choose_qparams");
  return {Tensor::from_vector(std::vector<double>{q.scale}, Shape{1}),
          Tensor::from_vector(std::vector<std::int64_t>{q.zero_point}, Shape{1})};
}

// torchao's per-token qparams: scales f32[rows, 1], zero points i32[rows, 1].
Outputs choose_qparams_per_token(const Node& n, Inputs in) {
  PerTokenQParams q =
      quantkit::choose_qparams_per_token(in[0], range_of(n), static_cast<float>(n.attr_float("eps")));
  Outputs out;
  out.push_back(std::move(q.scales));
  out.push_back(std::move(q.zero_points));
  return out;
}
Outputs quantize_per_group(const Node& n, Inputs in) {
  return one(quantkit::quantize_per_group(in[0], in[1], in[2], n.attr_int("group_size"),
                                          range_of(n)));
}
Outputs dequantize_per_group(const Node& n, Inputs in) {
  return one(quantkit::dequantize_per_group(in[0], in[1], in[2], n.attr_int("group_size")));
}

// ---- integer reference representation ----
Outputs cast(const Node& n, Inputs in) { return one(ref::cast(in[0], n.attr_dtype("dtype"))); }
Outputs round(const Node&, Inputs in) { return one(ref::round_half_even(in[0])); }
Outputs integer_linear(const Node&, Inputs in) {
  return one(ref::integer_linear(in[0], in[1], optional_input(in, 2)));
}
Outputs integer_conv2d(const Node& n, Inputs in) {
  return one(ref::integer_conv2d(in[0], in[1], optional_input(in, 2), conv_params(n)));
}

Outputs integer_linear_grouped(const Node& n, Inputs in) {
  return one(ref::integer_linear_grouped(in[0], in[1], n.attr_int("group_size")));
}
Outputs sum(const Node& n, Inputs in) {
  const auto rank = static_cast<std::int64_t>(in[0].dim());
  const std::int64_t dim = n.attr_int("dim");
  return one(ref::sum(in[0], dim < 0 ? dim + rank : dim));
}

// ---- more float32 compute ----
Outputs sigmoid(const Node&, Inputs in) {
  return one(ref::unary_activation(ref::Activation::Sigmoid, in[0]));
}
Outputs tanh(const Node&, Inputs in) {
  return one(ref::unary_activation(ref::Activation::Tanh, in[0]));
}
Outputs erf(const Node&, Inputs in) {
  return one(ref::unary_activation(ref::Activation::Erf, in[0]));
}
Outputs exp(const Node&, Inputs in) {
  return one(ref::unary_activation(ref::Activation::Exp, in[0]));
}
Outputs neg(const Node&, Inputs in) {
  return one(ref::unary_activation(ref::Activation::Neg, in[0]));
}
Outputs sqrt(const Node&, Inputs in) {
  return one(ref::unary_activation(ref::Activation::Sqrt, in[0]));
}
Outputs pow(const Node&, Inputs in) { return one(ref::binary(ref::BinaryOp::Pow, in[0], in[1])); }
Outputs mean(const Node& n, Inputs in) {
  return one(ref::mean(in[0], n.attr_ints("dims"), n.output(0)->shape()));
}
Outputs layer_norm(const Node& n, Inputs in) {
  return one(ref::layer_norm(in[0], in[1], optional_input(in, 2), n.attr_int("axis"),
                             n.attr_float("eps")));
}
Outputs slice(const Node& n, Inputs in) {
  return one(ref::slice(in[0], n.attr_ints("dims"), n.attr_ints("starts"), n.attr_ints("ends"),
                        n.attr_ints("steps")));
}
Outputs gather(const Node& n, Inputs in) {
  return one(ref::gather(in[0], n.attr_int("dim"), n.attr_ints("indices")));
}
Outputs expand(const Node& n, Inputs in) { return one(ref::expand(in[0], n.output(0)->shape())); }
Outputs hardsigmoid(const Node& n, Inputs in) {
  return one(ref::unary_activation(ref::Activation::HardSigmoid, in[0], n.attr_float("alpha"),
                                   n.attr_float("beta")));
}
Outputs hardswish(const Node&, Inputs in) {
  return one(ref::unary_activation(ref::Activation::HardSwish, in[0]));
}
Outputs leaky_relu(const Node& n, Inputs in) {
  return one(
      ref::unary_activation(ref::Activation::LeakyRelu, in[0], n.attr_float("negative_slope")));
}
Outputs matmul(const Node& n, Inputs in) {
  return one(ref::matmul_f32(in[0], in[1], n.output(0)->shape()));
}
Outputs pad2d(const Node& n, Inputs in) {
  return one(ref::pad2d(in[0], n.attr_ints("pads"), n.attr_float("value")));
}

// ---- stateful ----
Outputs observe(const Node&, Inputs in) { return one(in[0]); }
Outputs fake_quantize(const Node&, Inputs) {
  throw Error(
      "fake_quantize needs its fake-quant module: run the graph through its "
      "PT2E prepared model (or install Interpreter::set_stateful_kernel)");
}

// ---- APoT: the apot library's dequantize kernel over the node's level table
// ----
Outputs apot_dequantize(const Node& n, Inputs in) {
  const auto& levels = n.attr_floats("levels");
  const std::vector<float> value_of_code(levels.begin(), levels.end());
  Tensor out = Tensor::empty(in[0].shape(), DType::Float32);
  const std::int32_t* codes = in[0].data<std::int32_t>();
  const std::int64_t bad =
      kernels::apot_dequantize_f32(value_of_code.data(), static_cast<std::int64_t>(levels.size()),
                                   codes, in[0].numel(), out.data<float>());
  if (bad >= 0) {
    throw Error("apot_dequantize: code " + std::to_string(codes[bad]) + " at position " +
                std::to_string(bad) + " is not a level index (there are " +
                std::to_string(levels.size()) + " levels)");
  }
  return one(std::move(out));
}

// ---- fused integer kernels ----
Outputs quantized_linear(const Node& n, Inputs in) {
  return one(ref::quantized_linear(in[0], in[1], in[2], in[3], quantized_params(n)));
}
Outputs quantized_conv2d(const Node& n, Inputs in) {
  return one(
      ref::quantized_conv2d(in[0], in[1], in[2], in[3], conv_params(n), quantized_params(n)));
}
Outputs quantized_add(const Node& n, Inputs in) {
  ref::QuantizedAddParams p;
  p.a_zero_point = n.attr_int("a_zero_point");
  p.a_multiplier = n.attr_float("a_multiplier");
  p.b_zero_point = n.attr_int("b_zero_point");
  p.b_multiplier = n.attr_float("b_multiplier");
  p.out.out_zero_point = n.attr_int("out_zero_point");
  p.out.quant_min = n.attr_int("quant_min");
  p.out.quant_max = n.attr_int("quant_max");
  p.out.dtype = n.attr_dtype("dtype");
  return one(ref::quantized_add(in[0], in[1], p));
}
Outputs quantized_mul(const Node& n, Inputs in) {
  return one(ref::quantized_binary(in[0], in[1], graph::binary_params(n)));
}
Outputs quantized_lut(const Node& n, Inputs in) {
  return one(ref::quantized_lut(in[0], in[1], n.attr_dtype("dtype")));
}
Outputs quantized_concat(const Node& n, Inputs in) {
  return one(ref::quantized_concat(in, n.attr_int("dim"), graph::concat_params(n)));
}
Outputs quantized_avg_pool2d(const Node& n, Inputs in) {
  return one(ref::quantized_pool2d(in[0], graph::pool_params(n)));
}
Outputs quantized_adaptive_avg_pool2d(const Node& n, Inputs in) {
  return one(ref::quantized_pool2d(in[0], graph::pool_params(n)));
}
Outputs dynamic_quantized_linear(const Node& n, Inputs in) {
  return one(ref::dynamic_quantized_linear(in[0], in[1], in[2], optional_input(in, 3),
                                           n.attr_int("quant_min"), n.attr_int("quant_max"),
                                           n.attr_float("eps")));
}

Outputs dynamic_quantized_linear_per_token(const Node& n, Inputs in) {
  return one(ref::dynamic_quantized_linear_per_token(
      in[0], in[1], in[2], optional_input(in, 3), n.attr_int("group_size"),
      QuantRange::of(DType::Int8, n.attr_int("quant_min"), n.attr_int("quant_max")),
      static_cast<float>(n.attr_float("eps"))));
}

}  // namespace quantkit::graph::kernel
