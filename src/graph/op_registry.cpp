// The op registry: one schema per OpKind, each with its type inference (infer::), its
// reference kernel (kernel::, reference_kernels/entry_points.h) and its traits (OpTraits).
// The signatures here are the reference for docs/graph.md; keep them in sync. build_schemas
// checks at first use that every OpKind has a schema, in order, with an inference and a
// kernel.
#include <array>
#include <cstdint>
#include <string>

#include "quantkit/core/error.h"
#include "quantkit/graph/graph.h"
#include "quantkit/graph/op.h"
#include "reference_kernels/entry_points.h"
#include "type_inference.h"

namespace quantkit::graph {

// ---- InferContext ----

namespace {
const Attribute& find_attr(const InferContext& ctx, const AttributeMap& attrs,
                           std::string_view name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) ctx.fail("missing attribute '" + std::string(name) + "'");
  return it->second;
}
std::string attr_what(std::string_view name) { return "attribute '" + std::string(name) + "'"; }
}  // namespace

void InferContext::fail(std::string_view message) const {
  throw Error("node '" + std::string(node_name_) + "' (" + std::string(op_name_) +
              "): " + std::string(message));
}

namespace {
// An attribute read through `read` (Attribute::as_int, …); a wrong kind or a missing
// attribute fails naming this node (errors that already name it pass through).
template <typename Read>
decltype(auto) read_attr(const InferContext& ctx, const AttributeMap& attrs, std::string_view name,
                         Read read) {
  try {
    return read(find_attr(ctx, attrs, name), attr_what(name));
  } catch (const Error& e) {
    if (std::string_view(e.what()).starts_with("node '")) throw;
    ctx.fail(e.what());
  }
}
}  // namespace

std::int64_t InferContext::attr_int(std::string_view name) const {
  return read_attr(*this, attrs_, name, [](const Attribute& a, const std::string& w) {
    return a.as_int(w);
  });
}
double InferContext::attr_float(std::string_view name) const {
  return read_attr(*this, attrs_, name, [](const Attribute& a, const std::string& w) {
    return a.as_float(w);
  });
}
const std::vector<std::int64_t>& InferContext::attr_ints(std::string_view name) const {
  return read_attr(*this, attrs_, name,
                   [](const Attribute& a, const std::string& w) -> const std::vector<std::int64_t>& {
                     return a.as_ints(w);
                   });
}
const std::vector<double>& InferContext::attr_floats(std::string_view name) const {
  return read_attr(*this, attrs_, name,
                   [](const Attribute& a, const std::string& w) -> const std::vector<double>& {
                     return a.as_floats(w);
                   });
}
const std::string& InferContext::attr_string(std::string_view name) const {
  return read_attr(*this, attrs_, name,
                   [](const Attribute& a, const std::string& w) -> const std::string& {
                     return a.as_string(w);
                   });
}
DType InferContext::attr_dtype(std::string_view name) const {
  return read_attr(*this, attrs_, name, [](const Attribute& a, const std::string& w) {
    return a.as_dtype(w);
  });
}

// ---- schemas ----

const AttrSpec* OpSchema::find_attr(std::string_view attr_name) const {
  for (const AttrSpec& a : attrs) {
    if (a.name == attr_name) return &a;
  }
  return nullptr;
}

std::size_t OpSchema::max_inputs() const { return variadic ? SIZE_MAX : input_names.size(); }

namespace {

using K = AttrKind;

std::vector<AttrSpec> conv_attrs() {
  return {{"stride", K::Ints}, {"padding", K::Ints}, {"dilation", K::Ints}, {"groups", K::Int}};
}
std::vector<AttrSpec> quant_attrs(bool optional_qparams) {
  std::vector<AttrSpec> a{{"quant_min", K::Int}, {"quant_max", K::Int}, {"dtype", K::DType}};
  if (optional_qparams) {
    a.push_back({"scale", K::Float, false});
    a.push_back({"zero_point", K::Int, false});
  }
  return a;
}
std::vector<AttrSpec> per_channel_attrs() {
  auto a = quant_attrs(false);
  a.push_back({"axis", K::Int});
  return a;
}

// OpTraits in one call: traits(category, kView | kValuePreserving | kSharesObserver, "Onnx").
enum TraitFlag : unsigned { kView = 1, kValuePreserving = 2, kSharesObserver = 4, kPointwise = 8 };
OpTraits traits(OpCategory category, unsigned flags = 0, std::string_view onnx_op_type = {},
                bool (*holds_for)(const Node&) = nullptr) {
  OpTraits t;
  t.category = category;
  t.is_view = (flags & kView) != 0;
  t.value_preserving = (flags & kValuePreserving) != 0;
  t.shares_observer = (flags & kSharesObserver) != 0;
  t.pointwise = (flags & kPointwise) != 0;
  t.onnx_op_type = onnx_op_type;
  t.holds_for = holds_for;
  return t;
}

// resize's value_preserving / shares_observer: nearest copies input elements, linear mixes them.
bool moves_elements_only(const Node& node) { return node.attr_string("mode") == "nearest"; }

std::vector<OpSchema> build_schemas() {
  std::vector<OpSchema> s;
  auto add = [&](OpKind kind, std::string_view name, std::string_view signature,
                 std::vector<std::string_view> inputs, std::size_t min_inputs,
                 std::vector<AttrSpec> attrs, InferFn fn, ReferenceKernel kernel, OpTraits traits,
                 std::vector<std::string_view> outputs = {"out"}, bool variadic = false) {
    if (static_cast<std::size_t>(kind) != s.size()) {
      throw Error("op registry: schema for '" + std::string(name) + "' is out of order");
    }
    if (!fn || kernel == nullptr) {
      throw Error("op registry: '" + std::string(name) + "' lacks a type inference or kernel");
    }
    s.push_back(OpSchema{kind, name, signature, std::move(inputs), min_inputs, variadic,
                         std::move(outputs), std::move(attrs), std::move(fn), kernel, traits});
  };

  add(OpKind::Linear, "linear",
      "linear(x: f32[..., in], weight: f32[out, in], bias?: f32[out]) -> f32[..., out]",
      {"x", "weight", "bias"}, 2, {}, infer::linear, kernel::linear, traits(OpCategory::Compute));
  add(OpKind::Conv2d, "conv2d",
      "conv2d(x: f32[N, C, H, W], weight: f32[O, C/groups, kH, kW], bias?: f32[O]; "
      "stride: ints[2], padding: ints[2], dilation: ints[2], groups: int) -> f32[N, O, oH, oW]",
      {"x", "weight", "bias"}, 2, conv_attrs(), infer::conv2d, kernel::conv2d,
      traits(OpCategory::Compute));
  add(OpKind::Add, "add", "add(a: T[...], b: T[...]) -> T[broadcast]", {"a", "b"}, 2, {},
      infer::binary_elementwise, kernel::add, traits(OpCategory::Compute, 0, "Add"));
  add(OpKind::Sub, "sub", "sub(a: T[...], b: T[...]) -> T[broadcast]", {"a", "b"}, 2, {},
      infer::binary_elementwise, kernel::sub, traits(OpCategory::Compute, 0, "Sub"));
  add(OpKind::Mul, "mul", "mul(a: T[...], b: T[...]) -> T[broadcast]", {"a", "b"}, 2, {},
      infer::binary_elementwise, kernel::mul, traits(OpCategory::Compute, 0, "Mul"));
  add(OpKind::Div, "div", "div(a: F[...], b: F[...]) -> F[broadcast]  (F floating)", {"a", "b"}, 2,
      {}, infer::binary_floating, kernel::div, traits(OpCategory::Compute, 0, "Div"));
  add(OpKind::Relu, "relu", "relu(x: T[...]) -> T[...]", {"x"}, 1, {}, infer::unary_same,
      kernel::relu, traits(OpCategory::Compute, kSharesObserver | kPointwise, "Relu"));
  add(OpKind::Hardtanh, "hardtanh", "hardtanh(x: F[...]; min_val: float, max_val: float) -> F[...]",
      {"x"}, 1, {{"min_val", K::Float}, {"max_val", K::Float}}, infer::unary_floating,
      kernel::hardtanh, traits(OpCategory::Compute, kSharesObserver | kPointwise));
  add(OpKind::Clamp, "clamp", "clamp(x: T[...]; min?: float, max?: float) -> T[...]", {"x"}, 1,
      {{"min", K::Float, false}, {"max", K::Float, false}}, infer::clamp, kernel::clamp,
      traits(OpCategory::Compute, kPointwise));
  add(OpKind::MaxPool2d, "max_pool2d",
      "max_pool2d(x: T[N?, C, H, W]; kernel_size: ints[2], stride: ints[2], padding: ints[2], "
      "dilation: ints[2], ceil_mode: int) -> T[N?, C, oH, oW]",
      {"x"}, 1,
      {{"kernel_size", K::Ints},
       {"stride", K::Ints},
       {"padding", K::Ints},
       {"dilation", K::Ints},
       {"ceil_mode", K::Int}},
      infer::max_pool2d, kernel::max_pool2d,
      traits(OpCategory::Compute, kValuePreserving | kSharesObserver));
  add(OpKind::AvgPool2d, "avg_pool2d",
      "avg_pool2d(x: F[N?, C, H, W]; kernel_size: ints[2], stride: ints[2], padding: ints[2], "
      "ceil_mode: int, count_include_pad: int, divisor_override?: int) -> F[N?, C, oH, oW]",
      {"x"}, 1,
      {{"kernel_size", K::Ints},
       {"stride", K::Ints},
       {"padding", K::Ints},
       {"ceil_mode", K::Int},
       {"count_include_pad", K::Int},
       {"divisor_override", K::Int, false}},
      infer::avg_pool2d, kernel::avg_pool2d, traits(OpCategory::Compute));
  add(OpKind::AdaptiveAvgPool2d, "adaptive_avg_pool2d",
      "adaptive_avg_pool2d(x: F[N?, C, H, W]; output_size: ints[2]) -> F[N?, C, oH, oW]", {"x"}, 1,
      {{"output_size", K::Ints}}, infer::adaptive_avg_pool2d, kernel::adaptive_avg_pool2d,
      traits(OpCategory::Compute, kSharesObserver));
  add(OpKind::BatchNorm, "batch_norm",
      "batch_norm(x: f32[N, C, ...], weight: f32[C], bias: f32[C], running_mean: f32[C], "
      "running_var: f32[C]; eps: float) -> f32[N, C, ...]  (inference: running statistics)",
      {"x", "weight", "bias", "running_mean", "running_var"}, 5, {{"eps", K::Float}},
      infer::batch_norm, kernel::batch_norm, traits(OpCategory::Compute));
  add(OpKind::Flatten, "flatten", "flatten(x: T[...]; start_dim: int, end_dim: int) -> T[...]",
      {"x"}, 1, {{"start_dim", K::Int}, {"end_dim", K::Int}}, infer::flatten, kernel::flatten,
      traits(OpCategory::Compute, kView | kValuePreserving | kSharesObserver));
  add(OpKind::Reshape, "reshape", "reshape(x: T[...]; shape: ints (one -1 allowed)) -> T[shape]",
      {"x"}, 1, {{"shape", K::Ints}}, infer::reshape, kernel::reshape,
      traits(OpCategory::Compute, kView | kValuePreserving | kSharesObserver));
  add(OpKind::Transpose, "transpose", "transpose(x: T[...]; dim0: int, dim1: int) -> T[...]", {"x"},
      1, {{"dim0", K::Int}, {"dim1", K::Int}}, infer::transpose, kernel::transpose,
      traits(OpCategory::Compute, kValuePreserving | kSharesObserver));
  add(OpKind::Cat, "cat", "cat(x0: T[...], x1: T[...], ...; dim: int) -> T[...]", {"x"}, 1,
      {{"dim", K::Int}}, infer::cat, kernel::cat, traits(OpCategory::Compute), {"out"},
      /*variadic=*/true);
  add(OpKind::Softmax, "softmax", "softmax(x: F[...]; dim: int) -> F[...]", {"x"}, 1,
      {{"dim", K::Int}}, infer::softmax, kernel::softmax, traits(OpCategory::Compute));

  add(OpKind::QuantizePerTensor, "quantize_per_tensor",
      "quantize_per_tensor(x: f32[...], scale?: float[1], zero_point?: int[1]; "
      "quant_min: int, quant_max: int, dtype: dtype, scale?: float, zero_point?: int) -> "
      "dtype[...]  (qparams as attributes or as inputs)",
      {"x", "scale", "zero_point"}, 1, quant_attrs(true), infer::quantize_per_tensor,
      kernel::quantize_per_tensor, traits(OpCategory::Quantize));
  add(OpKind::DequantizePerTensor, "dequantize_per_tensor",
      "dequantize_per_tensor(q: dtype[...], scale?: float[1], zero_point?: int[1]; "
      "quant_min: int, quant_max: int, dtype: dtype, scale?: float, zero_point?: int) -> "
      "f32[...]",
      {"q", "scale", "zero_point"}, 1, quant_attrs(true), infer::dequantize_per_tensor,
      kernel::dequantize_per_tensor, traits(OpCategory::Dequantize));
  add(OpKind::QuantizePerChannel, "quantize_per_channel",
      "quantize_per_channel(x: f32[...], scales: float[C], zero_points: int[C]; axis: int, "
      "quant_min: int, quant_max: int, dtype: dtype) -> dtype[...]",
      {"x", "scales", "zero_points"}, 3, per_channel_attrs(), infer::quantize_per_channel,
      kernel::quantize_per_channel, traits(OpCategory::Quantize));
  add(OpKind::DequantizePerChannel, "dequantize_per_channel",
      "dequantize_per_channel(q: dtype[...], scales: float[C], zero_points: int[C]; axis: int, "
      "quant_min: int, quant_max: int, dtype: dtype) -> f32[...]",
      {"q", "scales", "zero_points"}, 3, per_channel_attrs(), infer::dequantize_per_channel,
      kernel::dequantize_per_channel, traits(OpCategory::Dequantize));
  {
    auto attrs = quant_attrs(false);
    attrs.push_back({"eps", K::Float});
    add(OpKind::ChooseQParams, "choose_qparams",
        "choose_qparams(x: f32[...]; quant_min: int, quant_max: int, eps: float, dtype: dtype) "
        "-> (scale: f64[1], zero_point: i64[1])  (per-tensor affine, dynamic)",
        {"x"}, 1, std::move(attrs), infer::choose_qparams, kernel::choose_qparams,
        traits(OpCategory::ChooseQParams), {"scale", "zero_point"});
  }
  {
    auto attrs = quant_attrs(false);
    attrs.push_back({"eps", K::Float});
    add(OpKind::ChooseQParamsPerToken, "choose_qparams_per_token",
        "choose_qparams_per_token(x: f32[..., K]; quant_min: int, quant_max: int, eps: float, "
        "dtype: dtype) -> (scales: f32[rows, 1], zero_points: i32[rows, 1])  (torchao's "
        "per-token asymmetric qparams of each row, rows = numel / K: quant/per_token.h)",
        {"x"}, 1, std::move(attrs), infer::choose_qparams_per_token,
        kernel::choose_qparams_per_token, traits(OpCategory::ChooseQParams),
        {"scales", "zero_points"});
  }
  {
    auto attrs = quant_attrs(false);
    attrs.push_back({"group_size", K::Int});
    add(OpKind::QuantizePerGroup, "quantize_per_group",
        "quantize_per_group(x: f32[..., K], scales: f32[rows, K / group_size], zero_points: "
        "int[rows, K / group_size]; group_size, quant_min, quant_max: int, dtype) -> dtype[...]  "
        "(torchao block quantization along the last dim; per token: group_size = K)",
        {"x", "scales", "zero_points"}, 3, attrs, infer::quantize_per_group,
        kernel::quantize_per_group, traits(OpCategory::Quantize));
    add(OpKind::DequantizePerGroup, "dequantize_per_group",
        "dequantize_per_group(q: dtype[..., K], scales: f32[rows, K / group_size], zero_points: "
        "int[rows, K / group_size]; group_size, quant_min, quant_max: int, dtype) -> f32[...]  "
        "(float32 (q - zp) * scale)",
        {"q", "scales", "zero_points"}, 3, std::move(attrs), infer::dequantize_per_group,
        kernel::dequantize_per_group, traits(OpCategory::Dequantize));
  }

  add(OpKind::Cast, "cast", "cast(x: T[...]; dtype: dtype) -> dtype[...]", {"x"}, 1,
      {{"dtype", K::DType}}, infer::cast, kernel::cast, traits(OpCategory::IntegerReference));
  add(OpKind::Round, "round", "round(x: F[...]) -> F[...]  (half to even)", {"x"}, 1, {},
      infer::unary_floating, kernel::round, traits(OpCategory::IntegerReference, 0, "Round"));
  add(OpKind::IntegerLinear, "integer_linear",
      "integer_linear(x: I[..., in], weight: I[out, in], bias?: i32[out]) -> i32[..., out]  "
      "(I in i8 u8 i16 i32; int32 accumulation)",
      {"x", "weight", "bias"}, 2, {}, infer::integer_linear, kernel::integer_linear,
      traits(OpCategory::IntegerReference));
  add(OpKind::IntegerConv2d, "integer_conv2d",
      "integer_conv2d(x: I[N, C, H, W], weight: I[O, C/groups, kH, kW], bias?: i32[O]; stride, "
      "padding, dilation: ints[2], groups: int) -> i32[N, O, oH, oW]  (int32 accumulation)",
      {"x", "weight", "bias"}, 2, conv_attrs(), infer::integer_conv2d, kernel::integer_conv2d,
      traits(OpCategory::IntegerReference));
  add(OpKind::IntegerLinearGrouped, "integer_linear_grouped",
      "integer_linear_grouped(x: I[..., K], weight: I[N, K]; group_size: int) -> i32[..., N, K / "
      "group_size]  (one Σ x·w per group of group_size consecutive k, modulo 2^32)",
      {"x", "weight"}, 2, {{"group_size", K::Int}}, infer::integer_linear_grouped,
      kernel::integer_linear_grouped, traits(OpCategory::IntegerReference));
  add(OpKind::Sum, "sum",
      "sum(x: F[...]; dim: int) -> F[...] without dim  (accumulated in x's dtype in index order "
      "from 0: the grouped linear's sum over groups)",
      {"x"}, 1, {{"dim", K::Int}}, infer::sum, kernel::sum, traits(OpCategory::Compute));

  add(OpKind::Sigmoid, "sigmoid", "sigmoid(x: F[...]) -> F[...]", {"x"}, 1, {},
      infer::unary_floating, kernel::sigmoid, traits(OpCategory::Compute, kPointwise, "Sigmoid"));
  add(OpKind::Tanh, "tanh", "tanh(x: F[...]) -> F[...]", {"x"}, 1, {}, infer::unary_floating,
      kernel::tanh, traits(OpCategory::Compute, kPointwise, "Tanh"));
  add(OpKind::HardSigmoid, "hardsigmoid",
      "hardsigmoid(x: F[...]; alpha: float, beta: float) -> F[...]  "
      "(max(0, min(1, alpha * x + beta)); torch's is alpha = 1/6, beta = 1/2)",
      {"x"}, 1, {{"alpha", K::Float}, {"beta", K::Float}}, infer::unary_floating,
      kernel::hardsigmoid, traits(OpCategory::Compute, kPointwise));
  add(OpKind::HardSwish, "hardswish", "hardswish(x: F[...]) -> F[...]  (x * relu6(x + 3) / 6)",
      {"x"}, 1, {}, infer::unary_floating, kernel::hardswish, traits(OpCategory::Compute, kPointwise));
  add(OpKind::LeakyRelu, "leaky_relu", "leaky_relu(x: F[...]; negative_slope: float) -> F[...]",
      {"x"}, 1, {{"negative_slope", K::Float}}, infer::unary_floating, kernel::leaky_relu,
      traits(OpCategory::Compute, kPointwise));
  add(OpKind::MatMul, "matmul",
      "matmul(a: f32[..., M, K], b: f32[..., K, N]) -> f32[broadcast(...), M, N]  (numpy "
      "matmul; rank-1 operands are promoted and the added dim removed)",
      {"a", "b"}, 2, {}, infer::matmul, kernel::matmul, traits(OpCategory::Compute, 0, "MatMul"));
  add(OpKind::Pad2d, "pad2d",
      "pad2d(x: T[..., H, W]; pads: ints[4] (top, left, bottom, right, each >= 0), value: "
      "float) -> T[..., H + top + bottom, W + left + right]",
      {"x"}, 1, {{"pads", K::Ints}, {"value", K::Float}}, infer::pad2d, kernel::pad2d,
      traits(OpCategory::Compute));

  // ---- resampling (ONNX ConvTranspose, Resize: src/graph/type_inference_resample.cpp,
  // reference_kernels/resample.cpp) ----
  add(OpKind::ConvTranspose2d, "conv_transpose2d",
      "conv_transpose2d(x: f32[N, C, H, W], weight: f32[C, O/groups, kH, kW], bias?: f32[O]; "
      "stride: ints[2], pads: ints[4] (top, left, bottom, right), output_padding: ints[2], "
      "dilation: ints[2], groups: int) -> f32[N, O, oH, oW]  (oH = stride * (H - 1) + "
      "output_padding + dilation * (kH - 1) + 1 - top - bottom; ONNX ConvTranspose)",
      {"x", "weight", "bias"}, 2,
      {{"stride", K::Ints},
       {"pads", K::Ints},
       {"output_padding", K::Ints},
       {"dilation", K::Ints},
       {"groups", K::Int}},
      infer::conv_transpose2d, kernel::conv_transpose2d, traits(OpCategory::Compute));
  add(OpKind::Resize, "resize",
      "resize(x: T[..., H, W]; mode: string (nearest | linear), coordinate_transformation_mode: "
      "string (half_pixel | align_corners | asymmetric | pytorch_half_pixel), nearest_mode: "
      "string (round_prefer_floor | round_prefer_ceil | floor | ceil), scales: floats[2], "
      "output_size: ints[2]) -> T[..., oH, oW]  (ONNX Resize of the last two dims in float32 "
      "coordinates; linear needs a floating x)",
      {"x"}, 1,
      {{"mode", K::String},
       {"coordinate_transformation_mode", K::String},
       {"nearest_mode", K::String},
       {"scales", K::Floats},
       {"output_size", K::Ints}},
      infer::resize, kernel::resize,
      traits(OpCategory::Compute, kValuePreserving | kSharesObserver, {}, moves_elements_only));

  add(OpKind::Erf, "erf", "erf(x: F[...]) -> F[...]", {"x"}, 1, {}, infer::unary_floating,
      kernel::erf, traits(OpCategory::Compute, kPointwise, "Erf"));
  add(OpKind::Exp, "exp", "exp(x: F[...]) -> F[...]", {"x"}, 1, {}, infer::unary_floating,
      kernel::exp, traits(OpCategory::Compute, kPointwise, "Exp"));
  add(OpKind::Neg, "neg", "neg(x: F[...]) -> F[...]", {"x"}, 1, {}, infer::unary_floating,
      kernel::neg, traits(OpCategory::Compute, kPointwise, "Neg"));
  add(OpKind::Sqrt, "sqrt", "sqrt(x: F[...]) -> F[...]  (NaN below zero)", {"x"}, 1, {},
      infer::unary_floating, kernel::sqrt, traits(OpCategory::Compute, kPointwise, "Sqrt"));
  add(OpKind::Pow, "pow",
      "pow(a: F[...], b: F[...]) -> F[broadcast]  (F floating; b = 2 is a * a and b = 0.5 is "
      "sqrt(a), as in ONNX Runtime)",
      {"a", "b"}, 2, {}, infer::binary_floating, kernel::pow,
      traits(OpCategory::Compute, 0, "Pow"));
  add(OpKind::Mean, "mean",
      "mean(x: F[...]; dims: ints (distinct, negative counts from the end), keepdim: int) -> "
      "F[...]  (summed in double, rounded once; reduced dims kept as 1 when keepdim)",
      {"x"}, 1, {{"dims", K::Ints}, {"keepdim", K::Int}}, infer::mean, kernel::mean,
      traits(OpCategory::Compute));
  add(OpKind::LayerNorm, "layer_norm",
      "layer_norm(x: f32[...], weight: f32[x.shape[axis:]], bias?: f32[x.shape[axis:]]; axis: "
      "int, eps: float) -> f32[...]  (per row of the dims from axis on, in float32: mean, var = "
      "mean of squared deviations, (x - mean) / sqrt(var + eps) * weight + bias)",
      {"x", "weight", "bias"}, 2, {{"axis", K::Int}, {"eps", K::Float}}, infer::layer_norm,
      kernel::layer_norm, traits(OpCategory::Compute));

  // ---- data movement for transformers ----
  add(OpKind::Slice, "slice",
      "slice(x: T[...]; dims, starts, ends, steps: ints (one entry per sliced dim)) -> T[...]  "
      "(ONNX Slice: negative start / end count from the end, then clamp; steps nonzero, "
      "negative walks backwards)",
      {"x"}, 1, {{"dims", K::Ints}, {"starts", K::Ints}, {"ends", K::Ints}, {"steps", K::Ints}},
      infer::slice, kernel::slice,
      // Picks elements by position: int8 through shufflenet's channel split (chunk).
      traits(OpCategory::Compute, kValuePreserving | kSharesObserver));
  add(OpKind::Gather, "gather",
      "gather(x: T[...]; dim: int, indices: ints (in [-size, size))) -> T[...] with size(dim) = "
      "len(indices)  (ONNX Gather with constant 1-D indices)",
      {"x"}, 1, {{"dim", K::Int}, {"indices", K::Ints}}, infer::gather, kernel::gather,
      traits(OpCategory::Compute, kValuePreserving));
  add(OpKind::Expand, "expand",
      "expand(x: T[...]; shape: ints) -> T[broadcast(x.shape, shape)]  (ONNX Expand: "
      "bidirectional numpy broadcast)",
      {"x"}, 1, {{"shape", K::Ints}}, infer::expand, kernel::expand,
      traits(OpCategory::Compute, kValuePreserving));

  add(OpKind::Observe, "observe",
      "observe(x: f32[...]; observer: string) -> f32[...]  (identity; PT2E calibration feeds x "
      "to the observer named by the attribute)",
      {"x"}, 1, {{"observer", K::String}}, infer::observe, kernel::observe,
      traits(OpCategory::Stateful, kView));
  add(OpKind::FakeQuantize, "fake_quantize",
      "fake_quantize(x: f32[...]; module: string) -> f32[...]  (the fake-quant module named "
      "by the attribute; needs Interpreter::set_stateful_kernel)",
      {"x"}, 1, {{"module", K::String}}, infer::observe, kernel::fake_quantize,
      traits(OpCategory::Stateful, kView));
  add(OpKind::ApotDequantize, "apot_dequantize",
      "apot_dequantize(codes: i32[...]; levels: floats) -> f32[...]  (float32(levels[code]))",
      {"codes"}, 1, {{"levels", K::Floats}}, infer::apot_dequantize, kernel::apot_dequantize,
      traits(OpCategory::Dequantize));

  {
    std::vector<AttrSpec> attrs{{"x_zero_point", K::Int},
                                {"out_zero_point", K::Int},
                                {"quant_min", K::Int},
                                {"quant_max", K::Int},
                                {"dtype", K::DType}};
    add(OpKind::QuantizedLinear, "quantized_linear",
        "quantized_linear(x: Q[..., in], weight: i8[out, in], bias: i32[out], multipliers: "
        "f32[out or 1]; x_zero_point, out_zero_point, quant_min, quant_max: int, dtype) -> "
        "Q[..., out]  (acc = sum((x - x_zp) * w) + bias; clamp(round_half_even(f32(acc) * "
        "multiplier) + out_zp): kernels/requantize.h)",
        {"x", "weight", "bias", "multipliers"}, 4, attrs, infer::quantized_linear,
        kernel::quantized_linear, traits(OpCategory::FusedInteger));
    auto conv = conv_attrs();
    conv.insert(conv.end(), attrs.begin(), attrs.end());
    add(OpKind::QuantizedConv2d, "quantized_conv2d",
        "quantized_conv2d(x: Q[N, C, H, W], weight: i8[O, C/groups, kH, kW], bias: i32[O], "
        "multipliers: f32[O or 1]; conv attributes, x_zero_point, out_zero_point, quant_min, "
        "quant_max: int, dtype) -> Q[N, O, oH, oW]  (as quantized_linear; padding reads x_zp)",
        {"x", "weight", "bias", "multipliers"}, 4, std::move(conv), infer::quantized_conv2d,
        kernel::quantized_conv2d, traits(OpCategory::FusedInteger));
  }
  add(OpKind::QuantizedAdd, "quantized_add",
      "quantized_add(a: Q[...], b: Q[...]; a_zero_point: int, a_multiplier: float, "
      "b_zero_point: int, b_multiplier: float, out_zero_point, quant_min, quant_max: int, "
      "dtype, rounding: string = 'half_even') -> Q[broadcast]  (v = f32(a - a_zp) * "
      "f32(a_mult) + f32(b - b_zp) * f32(b_mult) in float32; clamp(round_half_even(v) + "
      "out_zp): kernels/eltwise.h)",
      {"a", "b"}, 2,
      {{"a_zero_point", K::Int},
       {"a_multiplier", K::Float},
       {"b_zero_point", K::Int},
       {"b_multiplier", K::Float},
       {"out_zero_point", K::Int},
       {"quant_min", K::Int},
       {"quant_max", K::Int},
       {"dtype", K::DType},
       {"rounding", K::String}},
      infer::quantized_add, kernel::quantized_add, traits(OpCategory::FusedInteger));
  add(OpKind::QuantizedMul, "quantized_mul",
      "quantized_mul(a: Q[...], b: Q[...]; a_zero_point, b_zero_point: int, multiplier: float, "
      "out_zero_point, quant_min, quant_max: int, dtype) -> Q[broadcast]  (v = f32((a - a_zp) * "
      "(b - b_zp)) * f32(multiplier) in float32; clamp(round_half_even(v) + out_zp): "
      "kernels/eltwise.h)",
      {"a", "b"}, 2,
      {{"a_zero_point", K::Int},
       {"b_zero_point", K::Int},
       {"multiplier", K::Float},
       {"out_zero_point", K::Int},
       {"quant_min", K::Int},
       {"quant_max", K::Int},
       {"dtype", K::DType}},
      infer::quantized_mul, kernel::quantized_mul, traits(OpCategory::FusedInteger));
  add(OpKind::QuantizedLut, "quantized_lut",
      "quantized_lut(x: Q[...], table: u8[256]; dtype) -> dtype[...]  (y = the table entry at "
      "x's byte: kernels/lut.h)",
      {"x", "table"}, 2, {{"dtype", K::DType}}, infer::quantized_lut, kernel::quantized_lut,
      traits(OpCategory::FusedInteger));
  add(OpKind::QuantizedConcat, "quantized_concat",
      "quantized_concat(x0: Q[...], x1: Q[...], ...; dim: int, scales: floats, zero_points: "
      "ints, out_scale: float, out_zero_point: int, dtype) -> Q[...]  (input i requantized "
      "with m = f32(scales[i] / out_scale) unless its qparams equal the output's: "
      "kernels/concat.h)",
      {"x"}, 1,
      {{"dim", K::Int},
       {"scales", K::Floats},
       {"zero_points", K::Ints},
       {"out_scale", K::Float},
       {"out_zero_point", K::Int},
       {"dtype", K::DType}},
      infer::quantized_concat, kernel::quantized_concat, traits(OpCategory::FusedInteger),
      {"out"}, /*variadic=*/true);
  {
    const std::vector<AttrSpec> requant{{"in_scale", K::Float},  {"in_zero_point", K::Int},
                                        {"out_scale", K::Float}, {"out_zero_point", K::Int},
                                        {"quant_min", K::Int},   {"quant_max", K::Int},
                                        {"dtype", K::DType}};
    std::vector<AttrSpec> avg{{"kernel_size", K::Ints},
                              {"stride", K::Ints},
                              {"padding", K::Ints},
                              {"ceil_mode", K::Int},
                              {"count_include_pad", K::Int},
                              {"divisor_override", K::Int, false}};
    avg.insert(avg.end(), requant.begin(), requant.end());
    add(OpKind::QuantizedAvgPool2d, "quantized_avg_pool2d",
        "quantized_avg_pool2d(x: Q[N?, C, H, W]; avg_pool2d's attributes, in_scale, "
        "in_zero_point, out_scale, out_zero_point, quant_min, quant_max, dtype) -> Q[N?, C, oH, "
        "oW]  (int32 window sum, one float32 multiply, round half to even: kernels/pool.h)",
        {"x"}, 1, std::move(avg), infer::quantized_avg_pool2d, kernel::quantized_avg_pool2d,
        traits(OpCategory::FusedInteger));
    std::vector<AttrSpec> adaptive{{"output_size", K::Ints}};
    adaptive.insert(adaptive.end(), requant.begin(), requant.end());
    add(OpKind::QuantizedAdaptiveAvgPool2d, "quantized_adaptive_avg_pool2d",
        "quantized_adaptive_avg_pool2d(x: Q[N?, C, H, W]; output_size: ints[2], in_scale, "
        "in_zero_point, out_scale, out_zero_point, quant_min, quant_max, dtype) -> Q[N?, C, oH, "
        "oW]  (as quantized_avg_pool2d over adaptive windows: kernels/pool.h)",
        {"x"}, 1, std::move(adaptive), infer::quantized_adaptive_avg_pool2d,
        kernel::quantized_adaptive_avg_pool2d, traits(OpCategory::FusedInteger));
  }
  add(OpKind::DynamicQuantizedLinear, "dynamic_quantized_linear",
      "dynamic_quantized_linear(x: f32[..., in], weight: i8[out, in], weight_scales: f64[out or "
      "1], bias?: f32[out]; quant_min, quant_max: int, eps: float) -> f32[..., out]  (x "
      "quantized to int8 per tensor at run time (choose_qparams, round(f64(x) / x_scale)), "
      "int32 accumulation, bias / (x_scale * w_scale) truncated in f64, output f32(f64(acc) "
      "* x_scale * w_scale))",
      {"x", "weight", "weight_scales", "bias"}, 3,
      {{"quant_min", K::Int}, {"quant_max", K::Int}, {"eps", K::Float}},
      infer::dynamic_quantized_linear, kernel::dynamic_quantized_linear,
      traits(OpCategory::FusedInteger));
  add(OpKind::DynamicQuantizedLinearPerToken, "dynamic_quantized_linear_per_token",
      "dynamic_quantized_linear_per_token(x: f32[..., K], weight: i8[N, K], weight_scales: "
      "f32[N, K / group_size], bias?: f32[N]; group_size, quant_min, quant_max: int, eps: float) "
      "-> f32[..., N]  (x quantized to int8 per row at run time (choose_qparams_per_token), "
      "exact int32 sums per group, then f32: ((Σ_g f32(acc_g) * w_scale[n][g]) * x_scale) + "
      "bias: kernels/grouped_linear.h)",
      {"x", "weight", "weight_scales", "bias"}, 3,
      {{"group_size", K::Int}, {"quant_min", K::Int}, {"quant_max", K::Int}, {"eps", K::Float}},
      infer::dynamic_quantized_linear_per_token, kernel::dynamic_quantized_linear_per_token,
      traits(OpCategory::FusedInteger));
  if (s.size() != kNumOpKinds) throw Error("op registry: not every OpKind has a schema");
  return s;
}

const std::vector<OpSchema>& schemas() {
  static const std::vector<OpSchema> table = build_schemas();
  return table;
}

}  // namespace

const OpSchema& op_schema(OpKind kind) {
  const auto index = static_cast<std::size_t>(kind);
  check_argument(index < kNumOpKinds, "op_schema", "kind", index, "a valid OpKind");
  return schemas()[index];
}

std::string_view op_name(OpKind kind) { return op_schema(kind).name; }

bool is_value_preserving(const Node& node) {
  const OpTraits& t = op_schema(node.op()).traits;
  return t.value_preserving && (t.holds_for == nullptr || t.holds_for(node));
}

bool shares_observer(const Node& node) {
  const OpTraits& t = op_schema(node.op()).traits;
  return t.shares_observer && (t.holds_for == nullptr || t.holds_for(node));
}

OpKind op_from_name(std::string_view name, std::string_view arg) {
  for (const OpSchema& s : schemas()) {
    if (s.name == name) return s.kind;
  }
  throw_invalid_argument("op_from_name", arg, name, "the name of an op in the graph op set");
}

std::span<const OpKind> all_ops() {
  static const std::array<OpKind, kNumOpKinds> ops = [] {
    std::array<OpKind, kNumOpKinds> a{};
    for (std::size_t i = 0; i < kNumOpKinds; ++i) a[i] = static_cast<OpKind>(i);
    return a;
  }();
  return ops;
}

}  // namespace quantkit::graph
