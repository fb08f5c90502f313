// Relu / Clip folded into the quantize that closes them, where the quantize's range already
// clamps at least as much: conv → relu → Q with Q's zero point at quant_min is conv → Q, and
// conv → hardtanh(0, 6) → Q is conv → Q when 0 and 6 quantize to quant_min and quant_max.
// ONNX Runtime then sees DQ → Conv/Gemm/Add → Q, the pattern it fuses into QLinearConv / QGemm
// / QLinearAdd (its ReluQuantFusion / ClipQuantFusion do the same at load; a file without the
// activation needs neither).
//
// Exactness: quantize is monotone and saturates, so Q(clamp(x, lo, hi)) == Q(x) for every x
// exactly when Q(lo) == quant_min (or lo = -inf) and Q(hi) == quant_max (or hi = +inf). That is
// checked in both arithmetics a reader may use: ours / PyTorch's (x · (1 / scale), affine.h)
// and ONNX's QuantizeLinear (x / scale); the activation is kept otherwise.
#include <algorithm>
#include <cmath>
#include <optional>

#include "export_context.h"
#include "quantkit/quant/affine.h"

namespace quantkit::onnx::export_detail {
namespace {

using graph::Node;
using graph::OpKind;

struct Bounds {
  std::optional<double> lo;
  std::optional<double> hi;
};

std::optional<Bounds> clamp_bounds(const Node& node) {
  switch (node.op()) {
    case OpKind::Relu:
      return Bounds{0.0, std::nullopt};
    case OpKind::Hardtanh:
      return Bounds{node.attr_float("min_val"), node.attr_float("max_val")};
    case OpKind::Clamp:
      return Bounds{node.has_attr("min") ? std::optional(node.attr_float("min")) : std::nullopt,
                    node.has_attr("max") ? std::optional(node.attr_float("max")) : std::nullopt};
    default:
      return std::nullopt;
  }
}

// v quantized by `q` in our arithmetic and in ONNX QuantizeLinear's; nullopt if they differ.
std::optional<std::int64_t> quantized(const Node& q, double v) {
  const double scale = q.attr_float("scale");
  const std::int64_t zp = q.attr_int("zero_point");
  const QuantRange range{q.attr_dtype("dtype"), q.attr_int("quant_min"), q.attr_int("quant_max")};
  const float x = static_cast<float>(v);
  const std::int64_t ours = quantize_per_tensor(Tensor::scalar<float>(x), scale, zp, range)
                                .to(DType::Int64)
                                .data<std::int64_t>()[0];
  const float rounded = std::nearbyint(x / static_cast<float>(scale));  // half to even
  const double onnx =
      std::clamp(static_cast<double>(rounded) + static_cast<double>(zp),
                 static_cast<double>(range.quant_min), static_cast<double>(range.quant_max));
  if (!std::isfinite(onnx) || static_cast<double>(ours) != onnx) return std::nullopt;
  return ours;
}

}  // namespace

bool fold_into_closing_quantize(ExportContext& ctx, const Node& node) {
  const auto bounds = clamp_bounds(node);
  const graph::Graph& g = ctx.graph();
  if (!bounds || node.input(0)->dtype() != DType::Float32 || g.is_output(node.output()) ||
      g.uses(node.output()).size() != 1) {
    return false;
  }
  const Node& q = *g.uses(node.output()).front().node;
  if (q.op() != OpKind::QuantizePerTensor || q.num_inputs() != 1 ||
      ctx.dynamic_outputs.count(q.output()) != 0) {
    return false;
  }
  if (bounds->lo) {
    const auto lo = quantized(q, *bounds->lo);
    if (!lo || *lo != q.attr_int("quant_min")) return false;
  }
  if (bounds->hi) {
    const auto hi = quantized(q, *bounds->hi);
    if (!hi || *hi != q.attr_int("quant_max")) return false;
  }
  ctx.alias(node.output(), node.input(0));
  return true;
}

}  // namespace quantkit::onnx::export_detail
