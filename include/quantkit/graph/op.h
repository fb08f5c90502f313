#pragma once
// The op set of the graph IR: an explicit, closed list (OpKind) with one schema per op.
//
// A schema is the one source of truth about an op: its signature, the names of its inputs,
// outputs and attributes, its type-inference function (output dtypes and shapes from input
// types and attributes), its reference kernel (what the interpreter runs), and the
// properties passes ask about (OpTraits: view, value preserving, observer sharing, ONNX
// type, category). Graph::add_node uses the inference to type new outputs; the verifier
// re-runs it to check existing ones. The full list with semantics is in docs/graph.md, and
// so is the list of files to touch to add an op.
//
// Conventions (aten-like, with explicit dtypes instead of implicit type promotion):
//  * Binary elementwise ops (add, sub, mul, div) take two inputs of the SAME dtype and
//    broadcast numpy-style; scalars are 0-d constants. Integer arithmetic wraps modulo
//    2^bits (two's complement), like torch's integer tensors.
//  * Dtype changes are explicit: cast, quantize_*, dequantize_*, integer_linear,
//    integer_conv2d (int32 accumulation, the counterpart of PT2E's out_dtype(..., int32)).
//  * Every attribute an op declares as required must be present: builders write the
//    defaults out, so a dump shows everything a kernel uses.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/attribute.h"

namespace quantkit::graph {

enum class OpKind : std::uint8_t {
  // ---- float32 compute ----
  Linear,             // linear(x, weight, bias?)
  Conv2d,             // conv2d(x, weight, bias?)
  Add,                // add(a, b)
  Sub,                // sub(a, b)
  Mul,                // mul(a, b)
  Div,                // div(a, b)            floating only
  Relu,               // relu(x)
  Hardtanh,           // hardtanh(x)          floating only
  Clamp,              // clamp(x)             min and/or max attribute
  MaxPool2d,          // max_pool2d(x)        any dtype
  AvgPool2d,          // avg_pool2d(x)        floating only
  AdaptiveAvgPool2d,  // adaptive_avg_pool2d(x)
  BatchNorm,          // batch_norm(x, weight, bias, running_mean, running_var)  eval mode
  Flatten,            // flatten(x)
  Reshape,            // reshape(x)
  Transpose,          // transpose(x)
  Cat,                // cat(x0, x1, ...)
  Softmax,            // softmax(x)
  // ---- quantization (torch.ops.quantized_decomposed) ----
  QuantizePerTensor,     // quantize_per_tensor(x, scale?, zero_point?)
  DequantizePerTensor,   // dequantize_per_tensor(q, scale?, zero_point?)
  QuantizePerChannel,    // quantize_per_channel(x, scales, zero_points)
  DequantizePerChannel,  // dequantize_per_channel(q, scales, zero_points)
  ChooseQParams,         // choose_qparams(x) -> (scale, zero_point)
  ChooseQParamsPerToken,  // choose_qparams_per_token(x) -> (scales, zero_points) per row
  QuantizePerGroup,       // quantize_per_group(x, scales, zero_points)  groups of the last dim
  DequantizePerGroup,     // dequantize_per_group(q, scales, zero_points)
  // ---- integer reference representation ----
  Cast,           // cast(x)                      any dtype -> attribute dtype
  Round,          // round(x)                     half to even, floating only
  IntegerLinear,  // integer_linear(x, weight, bias?)  int32 accumulation
  IntegerConv2d,  // integer_conv2d(x, weight, bias?)  int32 accumulation
  IntegerLinearGrouped,  // integer_linear_grouped(x, weight)  one int32 sum per group of k
  Sum,                   // sum(x)   over one dim, accumulated in order in x's float dtype
  // ---- more float32 compute (ONNX import) ----
  Sigmoid,      // sigmoid(x)
  Tanh,         // tanh(x)
  HardSigmoid,  // hardsigmoid(x)       max(0, min(1, alpha*x + beta)) (ONNX form)
  HardSwish,    // hardswish(x)         x * relu6(x + 3) / 6
  LeakyRelu,    // leaky_relu(x)        negative_slope attribute
  MatMul,       // matmul(a, b)         numpy matmul with batch broadcasting, f32
  Pad2d,        // pad2d(x)             constant padding of the last two dims
  // ---- float32 resampling for CNN import (ONNX ConvTranspose, Resize) ----
  ConvTranspose2d,  // conv_transpose2d(x, weight, bias?)  weight [C_in, C_out/groups, kH, kW]
  Resize,           // resize(x)            nearest / bilinear over the last two dims
  // ---- float32 compute for transformers (ONNX import: GELU, LayerNorm patterns) ----
  Erf,        // erf(x)
  Exp,        // exp(x)
  Neg,        // neg(x)                -x
  Sqrt,       // sqrt(x)               NaN below zero, as IEEE
  Pow,        // pow(a, b)             floating only, numpy broadcasting
  Mean,       // mean(x)            over the `dims` attribute (ONNX ReduceMean)
  LayerNorm,  // layer_norm(x, weight, bias?)  over dims [axis, rank), float32
  // ---- data movement for transformers (ONNX import: Slice, Split, Gather, Expand) ----
  Slice,   // slice(x)     strided ranges of some dims, clamped like ONNX Slice / Python
  Gather,  // gather(x)    the constant `indices` along one dim (negative: from the end)
  Expand,  // expand(x)    bidirectional (numpy) broadcast against the `shape` attribute
  // ---- stateful (PT2E prepare): evaluated through Interpreter::set_stateful_kernel ----
  Observe,       // observe(x)          identity; its observer records x during calibration
  FakeQuantize,  // fake_quantize(x)    the fake-quant module named by the 'module' attribute
  // ---- APoT ----
  ApotDequantize,  // apot_dequantize(codes)  levels[code]
  // ---- fused integer kernels (the lowering pass; equal to the reference representation) --
  QuantizedLinear,         // quantized_linear(x, weight, bias, multipliers)
  QuantizedConv2d,         // quantized_conv2d(x, weight, bias, multipliers)
  QuantizedAdd,            // quantized_add(a, b)
  QuantizedMul,            // quantized_mul(a, b)
  QuantizedLut,            // quantized_lut(x, table)   y = table[x] (a pointwise op between Q/DQ)
  QuantizedConcat,         // quantized_concat(x0, x1, ...)  inputs requantized to the output's
  QuantizedAvgPool2d,      // quantized_avg_pool2d(x)
  QuantizedAdaptiveAvgPool2d,  // quantized_adaptive_avg_pool2d(x)
  DynamicQuantizedLinear,  // dynamic_quantized_linear(x, weight, weight_scales, bias?)
  DynamicQuantizedLinearPerToken,  // per-token int8 x, groupwise-scaled weights, float out
  kLast = DynamicQuantizedLinearPerToken,
};

inline constexpr std::size_t kNumOpKinds = static_cast<std::size_t>(OpKind::kLast) + 1;

// Attribute declaration of an op.
struct AttrSpec {
  std::string_view name;
  AttrKind kind;
  bool required = true;
};

// Type of a value: element dtype and static shape (core/tensor.h; the data layer uses it too).
using quantkit::TensorType;
// Short dtype names used in dumps: f32 f64 i8 u8 i16 i32 i64 (core/dtype.h).
using quantkit::short_dtype_name;

// What type inference sees: the node's name (for messages), its input types and attributes.
class InferContext {
 public:
  InferContext(std::string_view node_name, std::string_view op_name,
               std::span<const TensorType> inputs, const AttributeMap& attrs)
      : node_name_(node_name), op_name_(op_name), inputs_(inputs), attrs_(attrs) {}

  std::span<const TensorType> inputs() const { return inputs_; }
  const TensorType& input(std::size_t i) const { return inputs_[i]; }
  std::size_t num_inputs() const { return inputs_.size(); }
  const AttributeMap& attrs() const { return attrs_; }
  bool has_attr(std::string_view name) const { return attrs_.find(name) != attrs_.end(); }
  std::int64_t attr_int(std::string_view name) const;
  double attr_float(std::string_view name) const;
  const std::vector<std::int64_t>& attr_ints(std::string_view name) const;
  const std::vector<double>& attr_floats(std::string_view name) const;
  const std::string& attr_string(std::string_view name) const;
  DType attr_dtype(std::string_view name) const;

  // Throws Error("node '<name>' (<op>): <message>").
  [[noreturn]] void fail(std::string_view message) const;
  void check(bool condition, std::string_view message) const {
    if (!condition) fail(message);
  }

 private:
  std::string_view node_name_;
  std::string_view op_name_;
  std::span<const TensorType> inputs_;
  const AttributeMap& attrs_;
};

using InferFn = std::function<std::vector<TensorType>(const InferContext&)>;

class Node;  // graph.h
// The reference kernel of an op: its outputs from the node (attributes, output types) and
// input tensors of the node's input types. Never writes to the inputs.
using ReferenceKernel = std::vector<Tensor> (*)(const Node& node, std::span<const Tensor> inputs);

// What kind of op it is, for passes that treat a whole family alike.
enum class OpCategory : std::uint8_t {
  Compute,           // float compute and data movement (any dtype where the schema allows)
  Quantize,          // float -> integer codes (quantize_per_tensor / _per_channel)
  Dequantize,        // integer codes -> float (dequantize_per_tensor / _per_channel, apot)
  ChooseQParams,     // computes qparams at run time (dynamic quantization)
  IntegerReference,  // integer arithmetic of the reference representation (cast, round, ...)
  Stateful,          // observe / fake_quantize: state outside the graph
  FusedInteger,      // the lowering pass's fused integer kernels
};

// Properties every pass reads from the schema instead of keeping its own list of ops.
struct OpTraits {
  OpCategory category = OpCategory::Compute;
  // Output 0 may share input 0's storage (reshape, flatten; observe and fake_quantize may
  // return x itself): whoever hands an output to a caller copies it first.
  bool is_view = false;
  // Unary, and every output element is one input element chosen by position or by order
  // alone (max_pool2d, flatten, reshape, transpose): the op commutes with a monotone
  // per-tensor dequantize, so the lowering runs it on the integer codes, and a value
  // known to lie in [quant_min, quant_max] stays there.
  bool value_preserving = false;
  // PT2E annotation: the output (and input 0) take the quantization of input 0's producer
  // (XNNPACK's _annotate_propagation: ops that do not change the value distribution much).
  bool shares_observer = false;
  // Unary, and each output element is a function of the input element at the same position
  // (and the attributes) alone: relu, sigmoid, hardswish, … Between a dequantize and a
  // quantize the lowering replaces it by a 256-entry table (quantized_lut).
  bool pointwise = false;
  // The ONNX operator this op exports to as one node with the same inputs and no
  // attributes; empty when the exporter has a special form (or none).
  std::string_view onnx_op_type;
  // When set, value_preserving and shares_observer hold only for the nodes it accepts: an
  // op whose attributes decide whether it moves elements or mixes them (resize: 'nearest'
  // moves, 'linear' interpolates). Passes ask through is_value_preserving / shares_observer.
  bool (*holds_for)(const Node& node) = nullptr;
};

struct OpSchema {
  OpKind kind;
  std::string_view name;                      // "conv2d"
  std::string_view signature;                 // human-readable, shown in docs and error messages
  std::vector<std::string_view> input_names;  // all inputs, optional ones last
  std::size_t min_inputs = 0;                 // inputs beyond this are optional
  bool variadic = false;                      // the last input name repeats (cat)
  std::vector<std::string_view> output_names;
  std::vector<AttrSpec> attrs;
  InferFn infer;
  ReferenceKernel reference = nullptr;  // what the interpreter runs
  OpTraits traits;

  const AttrSpec* find_attr(std::string_view attr_name) const;
  std::size_t max_inputs() const;  // SIZE_MAX when variadic
};

// OpTraits::value_preserving / shares_observer as they apply to this node (holds_for).
bool is_value_preserving(const Node& node);
bool shares_observer(const Node& node);

// The schema of an op (never null; every OpKind has one, with a type inference and a
// reference kernel: the registry checks this when it is first used).
const OpSchema& op_schema(OpKind kind);
// "conv2d".
std::string_view op_name(OpKind kind);
// Inverse of op_name; throws Error naming `arg` for an unknown name.
OpKind op_from_name(std::string_view name, std::string_view arg = "op");
// Every op, in OpKind order.
std::span<const OpKind> all_ops();

}  // namespace quantkit::graph
