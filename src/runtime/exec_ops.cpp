#include "exec_ops.h"

#include <algorithm>
#include <cstring>

#include "quantkit/graph/interpreter.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::runtime::detail {
namespace {

using graph::Node;

// Elements per chunk below which splitting across threads costs more than it saves.
constexpr std::int64_t kMinBytesPerChunk = 1 << 14;

// dst[c][r] = src[r][c] for a rows × cols byte matrix, tiled so both sides stay in cache.
void transpose_bytes(const std::byte* src, std::byte* dst, std::int64_t rows, std::int64_t cols,
                     std::int64_t row_begin, std::int64_t row_end) {
  constexpr std::int64_t kTile = 32;
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += kTile) {
    const std::int64_t r1 = std::min(row_end, r0 + kTile);
    for (std::int64_t c0 = 0; c0 < cols; c0 += kTile) {
      const std::int64_t c1 = std::min(cols, c0 + kTile);
      for (std::int64_t r = r0; r < r1; ++r) {
        for (std::int64_t c = c0; c < c1; ++c) dst[c * rows + r] = src[r * cols + c];
      }
    }
  }
}

class LayoutConversion final : public ExecOp {
 public:
  LayoutConversion(const SlotInfo& from, Layout target) : target_(target) {
    const Shape& s = from.type.shape;  // logical [N, C, H, W]
    batch_ = s[0];
    channels_ = s[1];
    pixels_ = s[2] * s[3];
  }
  void run(Frame& f) const override {
    const std::byte* src = f.in(inputs[0]);
    std::byte* dst = f.out(outputs[0]);
    const std::int64_t image = channels_ * pixels_;
    // NCHW image = [C, HW] matrix, NHWC image = [HW, C]: split the source rows.
    const std::int64_t rows = target_ == Layout::Nhwc ? channels_ : pixels_;
    const std::int64_t cols = target_ == Layout::Nhwc ? pixels_ : channels_;
    for (std::int64_t n = 0; n < batch_; ++n) {
      f.pool().parallel_for(rows, std::max<std::int64_t>(1, kMinBytesPerChunk / std::max<std::int64_t>(1, cols)),
                            [&](std::int64_t begin, std::int64_t end) {
                              transpose_bytes(src + n * image, dst + n * image, rows, cols, begin,
                                              end);
                            });
    }
  }

 private:
  Layout target_;
  std::int64_t batch_ = 0, channels_ = 0, pixels_ = 0;
};

QuantRange range_of(const Node& n) {
  return QuantRange::of(n.attr_dtype("dtype"), n.attr_int("quant_min"), n.attr_int("quant_max"));
}

class QuantizeOp final : public ExecOp {
 public:
  explicit QuantizeOp(const Node& n)
      : scale_(n.attr_float("scale")), zero_point_(n.attr_int("zero_point")), range_(range_of(n)) {}
  void run(Frame& f) const override {
    quantize_per_tensor_into(f.tensor(inputs[0]), scale_, zero_point_, range_,
                             f.mutable_tensor(outputs[0]));
  }

 private:
  double scale_;
  std::int64_t zero_point_;
  QuantRange range_;
};

class DequantizeOp final : public ExecOp {
 public:
  explicit DequantizeOp(const Node& n)
      : scale_(n.attr_float("scale")), zero_point_(n.attr_int("zero_point")) {}
  void run(Frame& f) const override {
    dequantize_per_tensor_into(f.tensor(inputs[0]), scale_, zero_point_,
                               f.mutable_tensor(outputs[0]));
  }

 private:
  double scale_;
  std::int64_t zero_point_;
};

class QuantizedAddOp final : public ExecOp {
 public:
  QuantizedAddOp(const QAddParams& p, std::int64_t numel) : p_(p), numel_(numel) {}
  void run(Frame& f) const override {
    const std::byte* a = f.in(inputs[0]);
    const std::byte* b = f.in(inputs[1]);
    std::byte* o = f.out(outputs[0]);
    f.pool().parallel_for(numel_, kMinBytesPerChunk, [&](std::int64_t begin, std::int64_t end) {
      qadd(a + begin, b + begin, o + begin, end - begin, p_);
    });
  }

 private:
  QAddParams p_;
  std::int64_t numel_;
};

class FallbackOp final : public ExecOp {
 public:
  FallbackOp(const Node& n, std::unique_ptr<FusedOp> fused) : node_(n), fused_(std::move(fused)) {}
  void run(Frame& f) const override {
    std::vector<Tensor> args;
    args.reserve(inputs.size());
    for (std::size_t s : inputs) args.push_back(f.tensor(s));
    std::vector<Tensor> results;
    if (fused_) {
      results.push_back(fused_->run(args, f.pool()));
    } else {
      results = graph::evaluate_node(node_, args);
    }
    for (std::size_t i = 0; i < outputs.size(); ++i) {
      Tensor& out = f.mutable_tensor(outputs[i]);
      std::memcpy(out.raw_data(), results[i].raw_data(), out.nbytes());
    }
  }

 private:
  const Node& node_;
  std::unique_ptr<FusedOp> fused_;
};

}  // namespace

std::unique_ptr<ExecOp> make_layout_conversion(const SlotInfo& from, std::size_t from_slot,
                                               std::size_t to_slot, Layout target) {
  auto op = std::make_unique<LayoutConversion>(from, target);
  op->inputs = {from_slot};
  op->outputs = {to_slot};
  op->label = std::string(target == Layout::Nhwc ? "to_nhwc '" : "to_nchw '") + from.name + "'";
  return op;
}

std::unique_ptr<ExecOp> make_quantize(const Node& node, std::size_t in, std::size_t out) {
  if (node.num_inputs() != 1) return nullptr;
  auto op = std::make_unique<QuantizeOp>(node);
  op->inputs = {in};
  op->outputs = {out};
  op->label = "quantize_per_tensor '" + node.name() + "'";
  return op;
}

std::unique_ptr<ExecOp> make_dequantize(const Node& node, std::size_t in, std::size_t out) {
  if (node.num_inputs() != 1) return nullptr;
  auto op = std::make_unique<DequantizeOp>(node);
  op->inputs = {in};
  op->outputs = {out};
  op->label = "dequantize_per_tensor '" + node.name() + "'";
  return op;
}

std::unique_ptr<ExecOp> make_quantized_add(const Node& node, std::size_t a, std::size_t b,
                                           std::size_t out) {
  if (node.input(0)->shape() != node.input(1)->shape()) return nullptr;
  QAddParams p;
  p.a_zero_point = static_cast<std::int32_t>(node.attr_int("a_zero_point"));
  p.b_zero_point = static_cast<std::int32_t>(node.attr_int("b_zero_point"));
  p.out_zero_point = static_cast<std::int32_t>(node.attr_int("out_zero_point"));
  p.a_multiplier = node.attr_float("a_multiplier");
  p.b_multiplier = node.attr_float("b_multiplier");
  p.quant_min = static_cast<std::int32_t>(node.attr_int("quant_min"));
  p.quant_max = static_cast<std::int32_t>(node.attr_int("quant_max"));
  p.half_even = node.attr_string("rounding") == "half_even";
  p.dtype = node.attr_dtype("dtype");
  if (!qadd_supported(p)) return nullptr;
  auto op = std::make_unique<QuantizedAddOp>(p, node.output()->type().numel());
  op->inputs = {a, b};
  op->outputs = {out};
  op->label = "quantized_add '" + node.name() + "'";
  return op;
}

std::unique_ptr<ExecOp> make_fallback(const Node& node, std::vector<std::size_t> inputs,
                                      std::vector<std::size_t> outputs,
                                      std::unique_ptr<FusedOp> fused) {
  const bool has_fused = fused != nullptr;
  auto op = std::make_unique<FallbackOp>(node, std::move(fused));
  op->inputs = std::move(inputs);
  op->outputs = std::move(outputs);
  op->label = std::string(graph::op_name(node.op())) + " '" + node.name() + "' (" +
              (has_fused ? "fused" : "reference") + ")";
  return op;
}

}  // namespace quantkit::runtime::detail
