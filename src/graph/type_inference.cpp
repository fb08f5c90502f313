#include "type_inference.h"

#include <cmath>
#include <string>

#include "quantkit/core/error.h"

namespace quantkit::graph::infer {
namespace {

std::string describe(const TensorType& t) { return t.to_string(); }

bool is_quant_storage(DType d) {
  return d == DType::Int8 || d == DType::UInt8 || d == DType::Int16 || d == DType::Int32;
}
bool is_integer_operand(DType d) {
  return d == DType::Int8 || d == DType::UInt8 || d == DType::Int16 || d == DType::Int32;
}

void expect_dtype(const InferContext& ctx, std::size_t i, DType dtype) {
  const TensorType& t = ctx.input(i);
  if (t.dtype != dtype) {
    ctx.fail("input " + std::to_string(i) + " has type " + describe(t) + ", expected dtype " +
             std::string(dtype_name(dtype)));
  }
}

void expect_floating(const InferContext& ctx, std::size_t i) {
  const TensorType& t = ctx.input(i);
  if (!is_floating(t.dtype)) {
    ctx.fail("input " + std::to_string(i) + " has type " + describe(t) +
             ", expected a floating dtype");
  }
}

void expect_rank(const InferContext& ctx, std::size_t i, std::int64_t lo, std::int64_t hi) {
  const auto rank = static_cast<std::int64_t>(ctx.input(i).shape.size());
  if (rank < lo || rank > hi) {
    std::string expected =
        lo == hi ? std::to_string(lo) : std::to_string(lo) + " to " + std::to_string(hi);
    ctx.fail("input " + std::to_string(i) + " has type " + describe(ctx.input(i)) +
             ", expected rank " + expected);
  }
}

void expect_vector(const InferContext& ctx, std::size_t i, std::int64_t length,
                   std::string_view what) {
  const TensorType& t = ctx.input(i);
  if (t.shape != Shape{length}) {
    ctx.fail("input " + std::to_string(i) + " has type " + describe(t) + ", expected shape [" +
             std::to_string(length) + "] (" + std::string(what) + ")");
  }
}

// The ints attribute `name` must have `count` entries, each >= `min_value`.
const std::vector<std::int64_t>& pair_attr(const InferContext& ctx, std::string_view name,
                                           std::int64_t min_value) {
  const auto& v = ctx.attr_ints(name);
  ctx.check(v.size() == 2, "attribute '" + std::string(name) + "' must have 2 entries, got " +
                               std::to_string(v.size()));
  for (std::int64_t e : v) {
    ctx.check(e >= min_value, "attribute '" + std::string(name) + "' entries must be >= " +
                                  std::to_string(min_value) + ", got " + std::to_string(e));
  }
  return v;
}

void check_quant_attrs(const InferContext& ctx) {
  const DType dtype = ctx.attr_dtype("dtype");
  ctx.check(is_quant_storage(dtype), "attribute 'dtype' is " + std::string(dtype_name(dtype)) +
                                         ", expected int8, uint8, int16 or int32");
  const std::int64_t qmin = ctx.attr_int("quant_min");
  const std::int64_t qmax = ctx.attr_int("quant_max");
  ctx.check(dtype_min(dtype) <= qmin && qmin <= qmax && qmax <= dtype_max(dtype),
            "quant range [" + std::to_string(qmin) + ", " + std::to_string(qmax) +
                "] is not a non-empty range inside " + std::string(dtype_name(dtype)));
}

// Per-tensor qparams come either as attributes (1 input) or as 1-element tensor inputs
// (3 inputs: the .tensor overloads PT2E uses for dynamic quantization).
void check_per_tensor_qparams(const InferContext& ctx) {
  const bool attrs = ctx.has_attr("scale") || ctx.has_attr("zero_point");
  if (ctx.num_inputs() == 1) {
    ctx.check(ctx.has_attr("scale") && ctx.has_attr("zero_point"),
              "needs 'scale' and 'zero_point' attributes when they are not inputs");
    const double scale = ctx.attr_float("scale");
    ctx.check(scale > 0 && scale <= 3.4028234663852886e38,
              "attribute 'scale' must be a finite float32 value > 0, got " + std::to_string(scale));
    return;
  }
  ctx.check(ctx.num_inputs() == 3,
            "takes scale and zero_point both as inputs or both as "
            "attributes, got 2 inputs");
  ctx.check(!attrs, "scale and zero_point are inputs, so the attributes must be absent");
  const TensorType& s = ctx.input(1);
  const TensorType& z = ctx.input(2);
  ctx.check(is_floating(s.dtype) && s.numel() == 1,
            "input 'scale' has type " + describe(s) + ", expected one floating element");
  ctx.check((z.dtype == DType::Int32 || z.dtype == DType::Int64) && z.numel() == 1,
            "input 'zero_point' has type " + describe(z) + ", expected one int32/int64 element");
}

void check_per_channel_qparams(const InferContext& ctx, std::int64_t axis) {
  const std::int64_t channels = ctx.input(0).shape[static_cast<std::size_t>(axis)];
  const TensorType& s = ctx.input(1);
  const TensorType& z = ctx.input(2);
  ctx.check(is_floating(s.dtype) && s.shape == Shape{channels},
            "input 'scales' has type " + describe(s) + ", expected a floating vector of " +
                std::to_string(channels) + " (the size of axis " + std::to_string(axis) + ")");
  ctx.check((z.dtype == DType::Int32 || z.dtype == DType::Int64) && z.shape == Shape{channels},
            "input 'zero_points' has type " + describe(z) + ", expected an int32/int64 vector of " +
                std::to_string(channels));
}

Shape conv2d_shape(const InferContext& ctx) {
  expect_rank(ctx, 0, 4, 4);
  expect_rank(ctx, 1, 4, 4);
  const Shape& x = ctx.input(0).shape;
  const Shape& w = ctx.input(1).shape;
  const auto& stride = pair_attr(ctx, "stride", 1);
  const auto& padding = pair_attr(ctx, "padding", 0);
  const auto& dilation = pair_attr(ctx, "dilation", 1);
  const std::int64_t groups = ctx.attr_int("groups");
  ctx.check(groups >= 1, "attribute 'groups' must be >= 1, got " + std::to_string(groups));
  ctx.check(x[1] % groups == 0 && w[0] % groups == 0,
            "in_channels " + std::to_string(x[1]) + " and out_channels " + std::to_string(w[0]) +
                " must both be divisible by groups " + std::to_string(groups));
  ctx.check(w[1] * groups == x[1], "weight " + describe(ctx.input(1)) + " expects " +
                                       std::to_string(w[1] * groups) + " input channels, x " +
                                       describe(ctx.input(0)) + " has " + std::to_string(x[1]));
  if (ctx.num_inputs() == 3) {
    expect_vector(ctx, 2, w[0], "out_channels");
  }
  Shape out{x[0], w[0], 0, 0};
  for (std::size_t d = 0; d < 2; ++d) {
    const std::int64_t in = x[2 + d] + 2 * padding[d];
    const std::int64_t span = dilation[d] * (w[2 + d] - 1) + 1;
    ctx.check(w[2 + d] >= 1 && in >= span,
              "kernel of extent " + std::to_string(span) + " does not fit the padded input " +
                  std::to_string(in) + " in spatial dim " + std::to_string(d));
    out[2 + d] = conv_output_size(x[2 + d], w[2 + d], padding[d], stride[d], dilation[d]);
  }
  return out;
}

Shape linear_shape(const InferContext& ctx) {
  expect_rank(ctx, 0, 1, 8);
  expect_rank(ctx, 1, 2, 2);
  const Shape& x = ctx.input(0).shape;
  const Shape& w = ctx.input(1).shape;
  ctx.check(x.back() == w[1], "x " + describe(ctx.input(0)) + " has " + std::to_string(x.back()) +
                                  " features, weight " + describe(ctx.input(1)) + " expects " +
                                  std::to_string(w[1]));
  if (ctx.num_inputs() == 3) expect_vector(ctx, 2, w[0], "out_features");
  Shape out = x;
  out.back() = w[0];
  return out;
}

}  // namespace

std::int64_t conv_output_size(std::int64_t in, std::int64_t kernel, std::int64_t pad,
                              std::int64_t stride, std::int64_t dilation) {
  return (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;
}

std::int64_t pooling_output_size(std::int64_t in, std::int64_t kernel, std::int64_t pad,
                                 std::int64_t stride, std::int64_t dilation, bool ceil_mode) {
  const std::int64_t numerator =
      in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0);
  // Floor division (numerator may be negative for windows that do not fit).
  std::int64_t out =
      (numerator >= 0 ? numerator / stride : -((-numerator + stride - 1) / stride)) + 1;
  // torch: in ceil mode the last window must start inside the input or the left padding.
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Shape broadcast_shapes(const InferContext& ctx, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    ctx.check(da == db || da == 1 || db == 1,
              "shapes " + shape_to_string(a) + " and " + shape_to_string(b) + " do not broadcast");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::int64_t normalize_dim(const InferContext& ctx, std::int64_t dim, std::int64_t rank,
                           std::string_view attr) {
  const std::int64_t r = std::max<std::int64_t>(rank, 1);  // 0-d tensors accept dim 0 / -1
  ctx.check(dim >= -r && dim < r, "attribute '" + std::string(attr) + "' is " +
                                      std::to_string(dim) + ", expected a dim in [" +
                                      std::to_string(-r) + ", " + std::to_string(r) + ")");
  return dim < 0 ? dim + r : dim;
}

Types linear(const InferContext& ctx) {
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) expect_dtype(ctx, i, DType::Float32);
  return {TensorType{DType::Float32, linear_shape(ctx)}};
}

Types conv2d(const InferContext& ctx) {
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) expect_dtype(ctx, i, DType::Float32);
  return {TensorType{DType::Float32, conv2d_shape(ctx)}};
}

Types binary_elementwise(const InferContext& ctx) {
  const TensorType& a = ctx.input(0);
  const TensorType& b = ctx.input(1);
  ctx.check(a.dtype == b.dtype, "inputs have different dtypes (" + describe(a) + " and " +
                                    describe(b) + "); insert a cast");
  return {TensorType{a.dtype, broadcast_shapes(ctx, a.shape, b.shape)}};
}

Types binary_floating(const InferContext& ctx) {
  expect_floating(ctx, 0);
  return binary_elementwise(ctx);
}

Types unary_same(const InferContext& ctx) { return {ctx.input(0)}; }

Types unary_floating(const InferContext& ctx) {
  expect_floating(ctx, 0);
  if (ctx.has_attr("min_val")) {
    ctx.check(ctx.attr_float("min_val") <= ctx.attr_float("max_val"),
              "attribute 'min_val' must be <= 'max_val'");
  }
  return {ctx.input(0)};
}

Types clamp(const InferContext& ctx) {
  const bool has_min = ctx.has_attr("min");
  const bool has_max = ctx.has_attr("max");
  ctx.check(has_min || has_max, "needs a 'min' or a 'max' attribute");
  const DType dtype = ctx.input(0).dtype;
  for (std::string_view name : {std::string_view("min"), std::string_view("max")}) {
    if (!ctx.has_attr(name)) continue;
    const double v = ctx.attr_float(name);
    ctx.check(v == v, "attribute '" + std::string(name) + "' is NaN");
    if (is_integer(dtype)) {
      ctx.check(v == static_cast<double>(static_cast<std::int64_t>(v)) &&
                    v >= static_cast<double>(dtype_min(dtype)) &&
                    v <= static_cast<double>(dtype_max(dtype)),
                "attribute '" + std::string(name) + "' is " + std::to_string(v) +
                    ", expected an integer inside " + std::string(dtype_name(dtype)));
    }
  }
  if (has_min && has_max) {
    ctx.check(ctx.attr_float("min") <= ctx.attr_float("max"), "attribute 'min' must be <= 'max'");
  }
  return {ctx.input(0)};
}

namespace {
Types pool2d(const InferContext& ctx, bool has_dilation) {
  expect_rank(ctx, 0, 3, 4);
  const Shape& x = ctx.input(0).shape;
  const auto& kernel = pair_attr(ctx, "kernel_size", 1);
  const auto& stride = pair_attr(ctx, "stride", 1);
  const auto& padding = pair_attr(ctx, "padding", 0);
  const std::vector<std::int64_t> unit{1, 1};
  const auto& dilation = has_dilation ? pair_attr(ctx, "dilation", 1) : unit;
  const bool ceil_mode = ctx.attr_int("ceil_mode") != 0;
  Shape out = x;
  const std::size_t h = x.size() - 2;
  for (std::size_t d = 0; d < 2; ++d) {
    ctx.check(padding[d] <= kernel[d] / 2, "padding " + std::to_string(padding[d]) +
                                               " must be at most half the kernel size " +
                                               std::to_string(kernel[d]));
    const std::int64_t o =
        pooling_output_size(x[h + d], kernel[d], padding[d], stride[d], dilation[d], ceil_mode);
    ctx.check(o >= 1, "input " + describe(ctx.input(0)) + " is too small for the pooling window");
    out[h + d] = o;
  }
  return {TensorType{ctx.input(0).dtype, out}};
}
}  // namespace

Types max_pool2d(const InferContext& ctx) { return pool2d(ctx, true); }

Types adaptive_pool2d(const InferContext& ctx);  // adaptive_avg_pool2d's shape rule

Types avg_pool2d(const InferContext& ctx) {
  expect_floating(ctx, 0);
  if (ctx.has_attr("divisor_override")) {
    ctx.check(ctx.attr_int("divisor_override") != 0, "attribute 'divisor_override' must be != 0");
  }
  return pool2d(ctx, false);
}

Types adaptive_avg_pool2d(const InferContext& ctx) {
  expect_floating(ctx, 0);
  return adaptive_pool2d(ctx);
}

Types adaptive_pool2d(const InferContext& ctx) {
  expect_rank(ctx, 0, 3, 4);
  const auto& size = pair_attr(ctx, "output_size", 1);
  Shape out = ctx.input(0).shape;
  for (std::size_t d = 0; d < 2; ++d) {
    ctx.check(out[out.size() - 2 + d] > 0,
              "input " + describe(ctx.input(0)) + " has an empty spatial dim");
    out[out.size() - 2 + d] = size[d];
  }
  return {TensorType{ctx.input(0).dtype, out}};
}

Types batch_norm(const InferContext& ctx) {
  expect_rank(ctx, 0, 2, 8);
  const std::int64_t channels = ctx.input(0).shape[1];
  for (std::size_t i = 0; i < 5; ++i) expect_dtype(ctx, i, DType::Float32);
  static constexpr std::string_view kNames[] = {"", "weight", "bias", "running_mean",
                                                "running_var"};
  for (std::size_t i = 1; i < 5; ++i) expect_vector(ctx, i, channels, kNames[i]);
  const double eps = ctx.attr_float("eps");
  ctx.check(eps >= 0, "attribute 'eps' must be >= 0, got " + std::to_string(eps));
  return {ctx.input(0)};
}

Types flatten(const InferContext& ctx) {
  const Shape& x = ctx.input(0).shape;
  const auto rank = static_cast<std::int64_t>(x.size());
  if (rank == 0) return {TensorType{ctx.input(0).dtype, Shape{1}}};
  const std::int64_t start = normalize_dim(ctx, ctx.attr_int("start_dim"), rank, "start_dim");
  const std::int64_t end = normalize_dim(ctx, ctx.attr_int("end_dim"), rank, "end_dim");
  ctx.check(start <= end, "start_dim must not come after end_dim");
  Shape out(x.begin(), x.begin() + start);
  std::int64_t merged = 1;
  for (std::int64_t d = start; d <= end; ++d) merged *= x[static_cast<std::size_t>(d)];
  out.push_back(merged);
  out.insert(out.end(), x.begin() + end + 1, x.end());
  return {TensorType{ctx.input(0).dtype, out}};
}

Types reshape(const InferContext& ctx) {
  const auto& target = ctx.attr_ints("shape");
  const std::int64_t numel = ctx.input(0).numel();
  Shape out(target.begin(), target.end());
  std::int64_t known = 1;
  int inferred = -1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      ctx.check(inferred < 0, "attribute 'shape' has more than one -1");
      inferred = static_cast<int>(i);
    } else {
      ctx.check(out[i] >= 0, "attribute 'shape' has a negative dim " + std::to_string(out[i]));
      known *= out[i];
    }
  }
  if (inferred >= 0) {
    ctx.check(known != 0 && numel % known == 0, "cannot infer the -1 dim of " +
                                                    shape_to_string(out) + " for " +
                                                    std::to_string(numel) + " elements");
    out[static_cast<std::size_t>(inferred)] = numel / known;
  }
  ctx.check(shape_numel(out) == numel, "shape " + shape_to_string(out) + " does not hold the " +
                                           std::to_string(numel) + " elements of " +
                                           describe(ctx.input(0)));
  return {TensorType{ctx.input(0).dtype, out}};
}

Types transpose(const InferContext& ctx) {
  Shape out = ctx.input(0).shape;
  const auto rank = static_cast<std::int64_t>(out.size());
  const auto d0 = static_cast<std::size_t>(normalize_dim(ctx, ctx.attr_int("dim0"), rank, "dim0"));
  const auto d1 = static_cast<std::size_t>(normalize_dim(ctx, ctx.attr_int("dim1"), rank, "dim1"));
  if (rank > 0) std::swap(out[d0], out[d1]);
  return {TensorType{ctx.input(0).dtype, out}};
}

Types cat(const InferContext& ctx) {
  const TensorType& first = ctx.input(0);
  const auto rank = static_cast<std::int64_t>(first.shape.size());
  ctx.check(rank >= 1, "inputs must have rank >= 1, input 0 is " + describe(first));
  const auto dim = static_cast<std::size_t>(normalize_dim(ctx, ctx.attr_int("dim"), rank, "dim"));
  Shape out = first.shape;
  for (std::size_t i = 1; i < ctx.num_inputs(); ++i) {
    const TensorType& t = ctx.input(i);
    bool ok = t.dtype == first.dtype && t.shape.size() == first.shape.size();
    for (std::size_t d = 0; ok && d < out.size(); ++d) {
      if (d != dim && t.shape[d] != first.shape[d]) ok = false;
    }
    ctx.check(ok, "input " + std::to_string(i) + " " + describe(t) + " does not match input 0 " +
                      describe(first) + " outside dim " + std::to_string(dim));
    out[dim] += t.shape[dim];
  }
  return {TensorType{first.dtype, out}};
}

Types softmax(const InferContext& ctx) {
  expect_floating(ctx, 0);
  normalize_dim(ctx, ctx.attr_int("dim"), static_cast<std::int64_t>(ctx.input(0).shape.size()),
                "dim");
  return {ctx.input(0)};
}

Types mean(const InferContext& ctx) {
  expect_floating(ctx, 0);
  const Shape& x = ctx.input(0).shape;
  const auto rank = static_cast<std::int64_t>(x.size());
  ctx.check(rank > 0, "a 0-d input has no dims to reduce");
  std::vector<bool> reduced(x.size(), false);
  const std::vector<std::int64_t>& dims = ctx.attr_ints("dims");
  ctx.check(!dims.empty(), "attribute 'dims' is empty, expected the dims to reduce");
  for (std::int64_t d : dims) {
    const auto n = static_cast<std::size_t>(normalize_dim(ctx, d, rank, "dims"));
    ctx.check(!reduced[n], "attribute 'dims' names dim " + std::to_string(n) + " twice");
    reduced[n] = true;
  }
  const bool keepdim = ctx.attr_int("keepdim") != 0;
  Shape out;
  for (std::size_t d = 0; d < x.size(); ++d) {
    if (!reduced[d]) {
      out.push_back(x[d]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return {TensorType{ctx.input(0).dtype, out}};
}

Types layer_norm(const InferContext& ctx) {
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) expect_dtype(ctx, i, DType::Float32);
  const Shape& x = ctx.input(0).shape;
  const auto rank = static_cast<std::int64_t>(x.size());
  ctx.check(rank > 0, "a 0-d input has no dims to normalize");
  const std::int64_t axis = normalize_dim(ctx, ctx.attr_int("axis"), rank, "axis");
  const Shape normalized(x.begin() + axis, x.end());
  static constexpr std::string_view kNames[] = {"x", "weight", "bias"};
  for (std::size_t i = 1; i < ctx.num_inputs(); ++i) {
    ctx.check(ctx.input(i).shape == normalized,
              std::string(kNames[i]) + " has shape " + shape_to_string(ctx.input(i).shape) +
                  ", expected x's dims from axis on " + shape_to_string(normalized));
  }
  const double eps = ctx.attr_float("eps");
  ctx.check(eps >= 0 && std::isfinite(eps),
            "attribute 'eps' must be finite and >= 0, got " + std::to_string(eps));
  return {ctx.input(0)};
}

Types quantize_per_tensor(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  check_quant_attrs(ctx);
  check_per_tensor_qparams(ctx);
  return {TensorType{ctx.attr_dtype("dtype"), ctx.input(0).shape}};
}

Types dequantize_per_tensor(const InferContext& ctx) {
  check_quant_attrs(ctx);
  expect_dtype(ctx, 0, ctx.attr_dtype("dtype"));
  check_per_tensor_qparams(ctx);
  return {TensorType{DType::Float32, ctx.input(0).shape}};
}

Types quantize_per_channel(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  check_quant_attrs(ctx);
  const auto rank = static_cast<std::int64_t>(ctx.input(0).shape.size());
  ctx.check(rank >= 1, "input 0 must have rank >= 1");
  check_per_channel_qparams(ctx, normalize_dim(ctx, ctx.attr_int("axis"), rank, "axis"));
  return {TensorType{ctx.attr_dtype("dtype"), ctx.input(0).shape}};
}

Types dequantize_per_channel(const InferContext& ctx) {
  check_quant_attrs(ctx);
  expect_dtype(ctx, 0, ctx.attr_dtype("dtype"));
  const auto rank = static_cast<std::int64_t>(ctx.input(0).shape.size());
  ctx.check(rank >= 1, "input 0 must have rank >= 1");
  check_per_channel_qparams(ctx, normalize_dim(ctx, ctx.attr_int("axis"), rank, "axis"));
  return {TensorType{DType::Float32, ctx.input(0).shape}};
}

Types choose_qparams(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  check_quant_attrs(ctx);
  const double eps = ctx.attr_float("eps");
  ctx.check(eps > 0, "attribute 'eps' must be > 0, got " + std::to_string(eps));
  // Like torch's quantized_decomposed.choose_qparams.tensor: float64 [1] and int64 [1].
  return {TensorType{DType::Float64, Shape{1}}, TensorType{DType::Int64, Shape{1}}};
}

Types choose_qparams_per_token(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  check_quant_attrs(ctx);
  const DType dtype = ctx.attr_dtype("dtype");
  ctx.check(dtype == DType::Int8 || dtype == DType::UInt8,
            "attribute 'dtype' is " + std::string(dtype_name(dtype)) + ", expected int8 or uint8");
  const double eps = ctx.attr_float("eps");
  ctx.check(eps > 0 && eps < 1, "attribute 'eps' must be in (0, 1), got " + std::to_string(eps));
  expect_rank(ctx, 0, 1, 8);
  const Shape& x = ctx.input(0).shape;
  ctx.check(x.back() >= 1, "input 0 has type " + describe(ctx.input(0)) +
                               ", expected a last dimension >= 1");
  const Shape rows{shape_numel(x) / x.back(), 1};
  return {TensorType{DType::Float32, rows}, TensorType{DType::Int32, rows}};
}

namespace {
// quantize_per_group / dequantize_per_group: x [..., K] with float32 scales and integer zero
// points of shape [numel / K, K / group_size].
void check_per_group_qparams(const InferContext& ctx) {
  check_quant_attrs(ctx);
  expect_rank(ctx, 0, 1, 8);
  const Shape& x = ctx.input(0).shape;
  const std::int64_t group_size = ctx.attr_int("group_size");
  ctx.check(group_size >= 1 && x.back() % group_size == 0,
            "attribute 'group_size' is " + std::to_string(group_size) +
                ", expected a divisor of the last dimension " + std::to_string(x.back()));
  const Shape qparams{x.back() == 0 ? 0 : shape_numel(x) / x.back(), x.back() / group_size};
  const TensorType& s = ctx.input(1);
  const TensorType& z = ctx.input(2);
  ctx.check(s.dtype == DType::Float32 && s.shape == qparams,
            "input 'scales' has type " + describe(s) + ", expected f32" +
                shape_to_string(qparams));
  ctx.check((z.dtype == DType::Int32 || z.dtype == DType::Int64) && z.shape == qparams,
            "input 'zero_points' has type " + describe(z) + ", expected i32 or i64" +
                shape_to_string(qparams));
}
}  // namespace

Types quantize_per_group(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  check_per_group_qparams(ctx);
  return {TensorType{ctx.attr_dtype("dtype"), ctx.input(0).shape}};
}

Types dequantize_per_group(const InferContext& ctx) {
  expect_dtype(ctx, 0, ctx.attr_dtype("dtype"));
  check_per_group_qparams(ctx);
  return {TensorType{DType::Float32, ctx.input(0).shape}};
}

Types cast(const InferContext& ctx) {
  return {TensorType{ctx.attr_dtype("dtype"), ctx.input(0).shape}};
}

Types integer_linear(const InferContext& ctx) {
  for (std::size_t i = 0; i < 2; ++i) {
    ctx.check(is_integer_operand(ctx.input(i).dtype), "input " + std::to_string(i) + " has type " +
                                                          describe(ctx.input(i)) +
                                                          ", expected int8, uint8, int16 or int32");
  }
  if (ctx.num_inputs() == 3) expect_dtype(ctx, 2, DType::Int32);
  return {TensorType{DType::Int32, linear_shape(ctx)}};
}

Types integer_linear_grouped(const InferContext& ctx) {
  for (std::size_t i = 0; i < 2; ++i) {
    ctx.check(is_integer_operand(ctx.input(i).dtype), "input " + std::to_string(i) + " has type " +
                                                          describe(ctx.input(i)) +
                                                          ", expected int8, uint8, int16 or int32");
  }
  Shape out = linear_shape(ctx);
  const std::int64_t k = ctx.input(1).shape[1];
  const std::int64_t group_size = ctx.attr_int("group_size");
  ctx.check(group_size >= 1 && k % group_size == 0,
            "attribute 'group_size' is " + std::to_string(group_size) +
                ", expected a divisor of in_features " + std::to_string(k));
  out.push_back(k / group_size);
  return {TensorType{DType::Int32, out}};
}

Types sum(const InferContext& ctx) {
  expect_floating(ctx, 0);
  const auto rank = static_cast<std::int64_t>(ctx.input(0).shape.size());
  ctx.check(rank >= 1, "input 0 must have rank >= 1");
  const std::int64_t dim = normalize_dim(ctx, ctx.attr_int("dim"), rank, "dim");
  Shape out = ctx.input(0).shape;
  out.erase(out.begin() + dim);
  return {TensorType{ctx.input(0).dtype, out}};
}

Types integer_conv2d(const InferContext& ctx) {
  for (std::size_t i = 0; i < 2; ++i) {
    ctx.check(is_integer_operand(ctx.input(i).dtype), "input " + std::to_string(i) + " has type " +
                                                          describe(ctx.input(i)) +
                                                          ", expected int8, uint8, int16 or int32");
  }
  if (ctx.num_inputs() == 3) expect_dtype(ctx, 2, DType::Int32);
  return {TensorType{DType::Int32, conv2d_shape(ctx)}};
}

Types matmul(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  expect_dtype(ctx, 1, DType::Float32);
  expect_rank(ctx, 0, 1, 8);
  expect_rank(ctx, 1, 1, 8);
  Shape a = ctx.input(0).shape;
  Shape b = ctx.input(1).shape;
  const bool a_vector = a.size() == 1;
  const bool b_vector = b.size() == 1;
  if (a_vector) a.insert(a.begin(), 1);
  if (b_vector) b.push_back(1);
  const std::int64_t m = a[a.size() - 2];
  const std::int64_t k = a.back();
  const std::int64_t n = b.back();
  ctx.check(b[b.size() - 2] == k, "a " + describe(ctx.input(0)) + " has " + std::to_string(k) +
                                      " columns, b " + describe(ctx.input(1)) + " has " +
                                      std::to_string(b[b.size() - 2]) + " rows");
  Shape out = broadcast_shapes(ctx, Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2));
  if (!a_vector) out.push_back(m);
  if (!b_vector) out.push_back(n);
  return {TensorType{DType::Float32, out}};
}

Types pad2d(const InferContext& ctx) {
  expect_rank(ctx, 0, 2, 8);
  const auto& pads = ctx.attr_ints("pads");
  ctx.check(pads.size() == 4, "attribute 'pads' must have 4 entries (top, left, bottom, right), got " +
                                  std::to_string(pads.size()));
  for (std::int64_t p : pads) {
    ctx.check(p >= 0 && p <= (std::int64_t{1} << 20),
              "attribute 'pads' entries must be in [0, 2^20], got " + std::to_string(p));
  }
  const double value = ctx.attr_float("value");
  const DType dtype = ctx.input(0).dtype;
  if (is_integer(dtype)) {
    ctx.check(value == static_cast<double>(static_cast<std::int64_t>(value)) &&
                  value >= static_cast<double>(dtype_min(dtype)) &&
                  value <= static_cast<double>(dtype_max(dtype)),
              "attribute 'value' is " + std::to_string(value) + ", expected an integer inside " +
                  std::string(dtype_name(dtype)));
  }
  Shape out = ctx.input(0).shape;
  out[out.size() - 2] += pads[0] + pads[2];
  out[out.size() - 1] += pads[1] + pads[3];
  return {TensorType{dtype, out}};
}

Types observe(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  const char* attr = ctx.has_attr("observer") ? "observer" : "module";
  ctx.check(!ctx.attr_string(attr).empty(), "attribute '" + std::string(attr) + "' is empty");
  return {ctx.input(0)};
}

Types apot_dequantize(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Int32);
  const auto& it = ctx.attrs().find("levels");
  const auto& levels = it->second.as_floats("attribute 'levels'");
  ctx.check(!levels.empty(), "attribute 'levels' is empty");
  return {TensorType{DType::Float32, ctx.input(0).shape}};
}

namespace {
// x: the activation storage dtype (= the 'dtype' attribute); weight: int8; bias: int32
// vector; multipliers: f32 vector of `channels` or 1 finite values > 0 (checked by kernels
// on data, here by shape).
void check_fused_operands(const InferContext& ctx, std::int64_t channels) {
  check_quant_attrs(ctx);
  const DType dtype = ctx.attr_dtype("dtype");
  ctx.check(dtype == DType::Int8 || dtype == DType::UInt8,
            "attribute 'dtype' must be int8 or uint8, got " + std::string(dtype_name(dtype)));
  expect_dtype(ctx, 0, dtype);
  expect_dtype(ctx, 1, DType::Int8);
  expect_dtype(ctx, 2, DType::Int32);
  expect_vector(ctx, 2, channels, "bias, one per output channel");
  expect_dtype(ctx, 3, DType::Float32);
  const TensorType& m = ctx.input(3);
  ctx.check(m.shape == Shape{channels} || m.shape == Shape{1},
            "input 3 'multipliers' has type " + describe(m) + ", expected f32[" +
                std::to_string(channels) + "] or f32[1]");
  const std::int64_t x_zp = ctx.attr_int("x_zero_point");
  const std::int64_t out_zp = ctx.attr_int("out_zero_point");
  ctx.check(x_zp >= dtype_min(dtype) && x_zp <= dtype_max(dtype),
            "attribute 'x_zero_point' is " + std::to_string(x_zp) + ", expected a value of " +
                std::string(dtype_name(dtype)));
  ctx.check(out_zp >= dtype_min(dtype) && out_zp <= dtype_max(dtype),
            "attribute 'out_zero_point' is " + std::to_string(out_zp) + ", expected a value of " +
                std::string(dtype_name(dtype)));
}
}  // namespace

Types quantized_linear(const InferContext& ctx) {
  const Shape out = linear_shape(ctx);
  check_fused_operands(ctx, ctx.input(1).shape[0]);
  return {TensorType{ctx.attr_dtype("dtype"), out}};
}

Types quantized_conv2d(const InferContext& ctx) {
  const Shape out = conv2d_shape(ctx);
  check_fused_operands(ctx, ctx.input(1).shape[0]);
  return {TensorType{ctx.attr_dtype("dtype"), out}};
}

Types quantized_add(const InferContext& ctx) {
  check_quant_attrs(ctx);
  const DType dtype = ctx.attr_dtype("dtype");
  ctx.check(dtype == DType::Int8 || dtype == DType::UInt8,
            "attribute 'dtype' must be int8 or uint8, got " + std::string(dtype_name(dtype)));
  expect_dtype(ctx, 0, dtype);
  expect_dtype(ctx, 1, dtype);
  for (std::string_view name : {std::string_view("a_multiplier"), std::string_view("b_multiplier")}) {
    const double m = ctx.attr_float(name);
    ctx.check(m > 0 && m <= 3.4028234663852886e38,
              "attribute '" + std::string(name) + "' must be a finite float32 value > 0, got " +
                  std::to_string(m));
  }
  const std::string& rounding = ctx.attr_string("rounding");
  // Deployment arithmetic rounds to nearest (kernels/eltwise.h); torchao's truncating
  // add_relu lives in the reference representation, not in this fused op.
  ctx.check(rounding == "half_even",
            "attribute 'rounding' must be 'half_even', got '" + rounding + "'");
  return {TensorType{dtype, broadcast_shapes(ctx, ctx.input(0).shape, ctx.input(1).shape)}};
}

namespace {
// The dtype attribute of the int8 / uint8 fused elementwise ops.
DType int8_or_uint8(const InferContext& ctx) {
  const DType dtype = ctx.attr_dtype("dtype");
  ctx.check(dtype == DType::Int8 || dtype == DType::UInt8,
            "attribute 'dtype' must be int8 or uint8, got " + std::string(dtype_name(dtype)));
  return dtype;
}
void check_positive_float32(const InferContext& ctx, std::string_view name, double v) {
  ctx.check(v > 0 && v <= 3.4028234663852886e38,
            "attribute '" + std::string(name) + "' must be a finite float32 value > 0, got " +
                std::to_string(v));
}
void check_zero_point(const InferContext& ctx, std::string_view name, std::int64_t zp,
                      DType dtype) {
  ctx.check(zp >= dtype_min(dtype) && zp <= dtype_max(dtype),
            "attribute '" + std::string(name) + "' is " + std::to_string(zp) +
                ", expected a value of " + std::string(dtype_name(dtype)));
}
// in_scale, in_zero_point, out_scale, out_zero_point, quant_min, quant_max, dtype of the
// quantized pools; input 0 of that dtype. Returns the dtype.
DType check_pool_requant(const InferContext& ctx) {
  check_quant_attrs(ctx);
  const DType dtype = int8_or_uint8(ctx);
  expect_dtype(ctx, 0, dtype);
  check_positive_float32(ctx, "in_scale", ctx.attr_float("in_scale"));
  check_positive_float32(ctx, "out_scale", ctx.attr_float("out_scale"));
  check_zero_point(ctx, "in_zero_point", ctx.attr_int("in_zero_point"), dtype);
  check_zero_point(ctx, "out_zero_point", ctx.attr_int("out_zero_point"), dtype);
  return dtype;
}
}  // namespace

Types quantized_mul(const InferContext& ctx) {
  check_quant_attrs(ctx);
  const DType dtype = int8_or_uint8(ctx);
  expect_dtype(ctx, 0, dtype);
  expect_dtype(ctx, 1, dtype);
  check_positive_float32(ctx, "multiplier", ctx.attr_float("multiplier"));
  for (std::string_view name : {"a_zero_point", "b_zero_point", "out_zero_point"}) {
    check_zero_point(ctx, name, ctx.attr_int(name), dtype);
  }
  return {TensorType{dtype, broadcast_shapes(ctx, ctx.input(0).shape, ctx.input(1).shape)}};
}

Types quantized_lut(const InferContext& ctx) {
  const DType dtype = int8_or_uint8(ctx);
  const DType in = ctx.input(0).dtype;
  ctx.check(in == DType::Int8 || in == DType::UInt8,
            "input 0 'x' has type " + describe(ctx.input(0)) + ", expected int8 or uint8");
  ctx.check(ctx.input(1).dtype == DType::UInt8 && ctx.input(1).shape == Shape{256},
            "input 1 'table' has type " + describe(ctx.input(1)) + ", expected u8[256]");
  return {TensorType{dtype, ctx.input(0).shape}};
}

Types quantized_concat(const InferContext& ctx) {
  const DType dtype = int8_or_uint8(ctx);
  const auto& scales = ctx.attr_floats("scales");
  const auto& zero_points = ctx.attr_ints("zero_points");
  ctx.check(scales.size() == ctx.num_inputs() && zero_points.size() == ctx.num_inputs(),
            "attributes 'scales' and 'zero_points' have " + std::to_string(scales.size()) +
                " and " + std::to_string(zero_points.size()) + " entries, expected one per input (" +
                std::to_string(ctx.num_inputs()) + ")");
  for (std::size_t i = 0; i < ctx.num_inputs(); ++i) {
    expect_dtype(ctx, i, dtype);
    check_positive_float32(ctx, "scales", scales[i]);
    check_zero_point(ctx, "zero_points", zero_points[i], dtype);
  }
  check_positive_float32(ctx, "out_scale", ctx.attr_float("out_scale"));
  check_zero_point(ctx, "out_zero_point", ctx.attr_int("out_zero_point"), dtype);
  return cat(ctx);
}

Types quantized_avg_pool2d(const InferContext& ctx) {
  check_pool_requant(ctx);
  if (ctx.has_attr("divisor_override")) {
    ctx.check(ctx.attr_int("divisor_override") != 0, "attribute 'divisor_override' must be != 0");
  }
  return pool2d(ctx, false);
}

Types quantized_adaptive_avg_pool2d(const InferContext& ctx) {
  check_pool_requant(ctx);
  return adaptive_pool2d(ctx);
}

Types dynamic_quantized_linear(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  expect_dtype(ctx, 1, DType::Int8);
  expect_dtype(ctx, 2, DType::Float64);
  expect_rank(ctx, 0, 1, 8);
  expect_rank(ctx, 1, 2, 2);
  const Shape& x = ctx.input(0).shape;
  const Shape& w = ctx.input(1).shape;
  ctx.check(x.back() == w[1], "x " + describe(ctx.input(0)) + " has " + std::to_string(x.back()) +
                                  " features, weight " + describe(ctx.input(1)) + " expects " +
                                  std::to_string(w[1]));
  const TensorType& s = ctx.input(2);
  ctx.check(s.shape == Shape{w[0]} || s.shape == Shape{1},
            "input 2 'weight_scales' has type " + describe(s) + ", expected f64[" +
                std::to_string(w[0]) + "] or f32[1]");
  if (ctx.num_inputs() == 4) {
    expect_dtype(ctx, 3, DType::Float32);
    expect_vector(ctx, 3, w[0], "out_features");
  }
  const std::int64_t qmin = ctx.attr_int("quant_min");
  const std::int64_t qmax = ctx.attr_int("quant_max");
  ctx.check(-128 <= qmin && qmin < qmax && qmax <= 127,
            "quant range [" + std::to_string(qmin) + ", " + std::to_string(qmax) +
                "] is not a range of at least two int8 values");
  const double eps = ctx.attr_float("eps");
  ctx.check(eps > 0 && eps < 1, "attribute 'eps' must be in (0, 1), got " + std::to_string(eps));
  Shape out = x;
  out.back() = w[0];
  return {TensorType{DType::Float32, out}};
}

Types dynamic_quantized_linear_per_token(const InferContext& ctx) {
  expect_dtype(ctx, 0, DType::Float32);
  expect_dtype(ctx, 1, DType::Int8);
  expect_dtype(ctx, 2, DType::Float32);
  expect_rank(ctx, 0, 1, 8);
  expect_rank(ctx, 1, 2, 2);
  const std::int64_t n = ctx.input(1).shape[0], k = ctx.input(1).shape[1];
  Shape out = ctx.input(0).shape;
  ctx.check(out.back() == k, "x " + describe(ctx.input(0)) + " has " + std::to_string(out.back()) +
                                 " features, weight " + describe(ctx.input(1)) + " expects " +
                                 std::to_string(k));
  out.back() = n;
  if (ctx.num_inputs() == 4) {
    expect_dtype(ctx, 3, DType::Float32);
    expect_vector(ctx, 3, n, "out_features");
  }
  ctx.check(k >= 1, "weight " + describe(ctx.input(1)) + " has no input features");
  const std::int64_t group_size = ctx.attr_int("group_size");
  ctx.check(group_size >= 1 && k % group_size == 0,
            "attribute 'group_size' is " + std::to_string(group_size) +
                ", expected a divisor of in_features " + std::to_string(k));
  const Shape scales{n, k / group_size};
  ctx.check(ctx.input(2).shape == scales, "input 2 'weight_scales' has type " +
                                              describe(ctx.input(2)) + ", expected f32" +
                                              shape_to_string(scales));
  const std::int64_t qmin = ctx.attr_int("quant_min");
  const std::int64_t qmax = ctx.attr_int("quant_max");
  ctx.check(-128 <= qmin && qmin < qmax && qmax <= 127,
            "quant range [" + std::to_string(qmin) + ", " + std::to_string(qmax) +
                "] is not a range of at least two int8 values");
  const double eps = ctx.attr_float("eps");
  ctx.check(eps > 0 && eps < 1, "attribute 'eps' must be in (0, 1), got " + std::to_string(eps));
  return {TensorType{DType::Float32, out}};
}

}  // namespace quantkit::graph::infer
