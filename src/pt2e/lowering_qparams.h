#pragma once
// Reading quantization parameters off the Q/DQ nodes convert_pt2e produces (internal to
// pt2e: the lowering pass and the reference representation rewrite). Each reader returns nullopt when the node is not of the expected form, so
// the pass leaves that pattern as it is.
#include <cstdint>
#include <optional>
#include <vector>

#include "quantkit/apot/integer_levels.h"
#include "quantkit/core/dtype.h"
#include "quantkit/graph/graph.h"

namespace quantkit::pt2e::lowering {

// Static per-tensor qparams of a quantize_per_tensor / dequantize_per_tensor node with its
// scale and zero point as attributes (the .default overloads).
struct TensorQParams {
  double scale = 1;
  std::int64_t zero_point = 0;
  std::int64_t quant_min = 0;
  std::int64_t quant_max = 0;
  DType dtype = DType::Int8;
  friend bool operator==(const TensorQParams&, const TensorQParams&) = default;
};
std::optional<TensorQParams> static_qparams(const graph::Node& node);

// A symmetric int8 weight folded as a constant: dequantize_per_tensor (zero point 0) or
// dequantize_per_channel on axis 0 (every zero point 0) of an int8 parameter/constant
// whose values all lie in [quant_min, quant_max] (torchao's reference clamps the weight
// to that range; inside it the clamp is the identity).
struct WeightQParams {
  const graph::Value* weight = nullptr;  // the int8 tensor
  std::vector<double> scales;            // 1 (per tensor) or out-channels values
};
std::optional<WeightQParams> symmetric_int8_weight(const graph::Value& dequantized);

// A per-token dynamic int8 activation: dequantize_per_group(quantize_per_group(x, s, zp), s,
// zp) with (s, zp) = choose_qparams_per_token(x), one group per row, int8 everywhere, the
// same range on all three nodes.
struct PerTokenActivation {
  const graph::Value* x = nullptr;  // the float input
  const graph::Node* choose = nullptr;
  std::int64_t quant_min = -128, quant_max = 127;
  double eps = 0;
};
std::optional<PerTokenActivation> per_token_activation(const graph::Value& dequantized);

// A symmetric int8 weight [N, K] with float32 scales per group of input features:
// dequantize_per_group of an int8 constant (zero points 0, values inside the range) with
// groups of G, or symmetric_int8_weight's per-channel / per-tensor forms as one group of K.
struct GroupedWeight {
  const graph::Value* weight = nullptr;  // the int8 tensor [N, K]
  std::vector<float> scales;             // [N, K / group_size]
  std::int64_t group_size = 0;
};
std::optional<GroupedWeight> grouped_symmetric_weight(const graph::Value& dequantized);

// The APoT weight apot_dequantize(codes constant) as int8 integers with one per-tensor scale
// (apot::integer_weight). Null when the levels are not small integer multiples of a step.
std::optional<apot::IntegerWeight> apot_int8_weight(const graph::Value& dequantized);

// Whether every element of `value` is known to lie in [quant_min, quant_max]: its dtype's
// full range does, so does the output of a quantize (or fused integer op) clamping to a
// sub-range, and of a value-preserving op (OpTraits::value_preserving) of such a value.
bool known_within(const graph::Value& value, std::int64_t quant_min, std::int64_t quant_max);

// A float32/float64 constant read as doubles; null for anything else.
std::optional<std::vector<double>> constant_doubles(const graph::Value& v);
// Whether `v` is an int32/int64 constant of zeros.
bool constant_all_zero(const graph::Value& v);

// The only user of `value` when it has exactly one use and is not a graph output.
graph::Node* single_user(const graph::Graph& graph, const graph::Value* value);

}  // namespace quantkit::pt2e::lowering
