#include "exec_ops.h"

#include <algorithm>
#include <cstring>

#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/fused_op_params.h"
#include "quantkit/kernels/concat.h"
#include "quantkit/kernels/eltwise.h"
#include "quantkit/kernels/lut.h"
#include "quantkit/kernels/pool.h"
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

// Same-shape quantized add / mul in any layout (elementwise), split by element ranges.
class QuantizedBinaryOp final : public ExecOp {
 public:
  QuantizedBinaryOp(const kernels::BinaryParams& p, std::int64_t numel) : p_(p), numel_(numel) {}
  void run(Frame& f) const override {
    const std::byte* a = f.in(inputs[0]);
    const std::byte* b = f.in(inputs[1]);
    std::byte* o = f.out(outputs[0]);
    f.pool().parallel_for(numel_, kMinBytesPerChunk, [&](std::int64_t begin, std::int64_t end) {
      kernels::binary(p_, a + begin, b + begin, o + begin, end - begin, false);
    });
  }

 private:
  kernels::BinaryParams p_;
  std::int64_t numel_;
};

// Broadcasting quantized add / mul on 4-d shapes as stored (NHWC images: [N,1,1,C] ×
// [N,H,W,C] is squeeze-excitation; logical tensors of rank <= 4 padded with leading 1s),
// split by output pixels (all dims but the last).
class BroadcastBinaryOp final : public ExecOp {
 public:
  using Shape4 = kernels::BinaryElementwise::Shape4;
  BroadcastBinaryOp(const kernels::BinaryParams& p, const Shape4& a, const Shape4& b) : op_(p) {
    op_.setup(a, b);
  }
  void run(Frame& f) const override {
    const std::byte* a = f.in(inputs[0]);
    const std::byte* b = f.in(inputs[1]);
    std::byte* o = f.out(outputs[0]);
    const std::int64_t min_pixels =
        std::max<std::int64_t>(1, kMinBytesPerChunk / std::max<std::int64_t>(1, op_.output_shape()[3]));
    f.pool().parallel_for(op_.output_pixels(), min_pixels,
                          [&](std::int64_t begin, std::int64_t end) {
                            op_.run(a, b, o, begin, end);
                          });
  }

 private:
  kernels::BinaryElementwise op_;
};

// int8/uint8 pooling on NHWC images (max: exact; average: kernels/pool.h's requantization),
// split by output pixels.
class PoolOp final : public ExecOp {
 public:
  PoolOp(const kernels::PoolParams& p, const Shape& x) : pool_(p) { pool_.setup(x[0], x[2], x[3]); }
  const char* kernel_name() const { return pool_.kernel_name(); }
  void run(Frame& f) const override {
    const std::byte* x = f.in(inputs[0]);
    std::byte* y = f.out(outputs[0]);
    f.pool().parallel_for(pool_.shape().output_pixels(), 64,
                          [&](std::int64_t begin, std::int64_t end) { pool_.run(x, y, begin, end); });
  }

 private:
  kernels::Pool2d pool_;
};

// y = table[x] in any layout, split by element ranges.
class LutOp final : public ExecOp {
 public:
  LutOp(const Tensor& table, std::int64_t numel) : numel_(numel) {
    std::memcpy(table_.data(), table.raw_data(), table_.size());
  }
  void run(Frame& f) const override {
    const auto* x = reinterpret_cast<const std::uint8_t*>(f.in(inputs[0]));
    auto* y = reinterpret_cast<std::uint8_t*>(f.out(outputs[0]));
    f.pool().parallel_for(numel_, kMinBytesPerChunk, [&](std::int64_t begin, std::int64_t end) {
      kernels::lut_apply(table_, x + begin, y + begin, end - begin);
    });
  }

 private:
  kernels::Lut256 table_;
  std::int64_t numel_;
};

// Concatenation as rows of `pixels` (the dims before the axis; N·H·W for channels of NHWC
// images), each input contributing its row of channels; split by pixels.
class ConcatOp final : public ExecOp {
 public:
  ConcatOp(kernels::ConcatParams p, std::int64_t pixels)
      : ptrs_(p.inputs.size()), concat_(std::move(p)), pixels_(pixels) {}
  void run(Frame& f) const override {
    for (std::size_t i = 0; i < inputs.size(); ++i) ptrs_[i] = f.in(inputs[i]);
    std::byte* y = f.out(outputs[0]);
    const std::int64_t min_pixels =
        std::max<std::int64_t>(1, kMinBytesPerChunk / std::max<std::int64_t>(1, concat_.out_channels()));
    f.pool().parallel_for(pixels_, min_pixels, [&](std::int64_t begin, std::int64_t end) {
      concat_.run(ptrs_, y, begin, end);
    });
  }

 private:
  mutable std::vector<const void*> ptrs_;  // filled per run (under the runtime's mutex)
  kernels::ConcatRequant concat_;
  std::int64_t pixels_;
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

std::unique_ptr<ExecOp> make_quantized_binary(const Node& node, std::size_t a, std::size_t b,
                                              std::size_t out, bool channels_last) {
  const Shape& as = node.input(0)->shape();
  const Shape& bs = node.input(1)->shape();
  const kernels::BinaryParams params = graph::binary_params(node);
  std::unique_ptr<ExecOp> op;
  if (as == bs) {
    op = std::make_unique<QuantizedBinaryOp>(params, node.output()->type().numel());
  } else if (channels_last && as.size() == 4 && bs.size() == 4) {
    op = std::make_unique<BroadcastBinaryOp>(params, BroadcastBinaryOp::Shape4{as[0], as[2], as[3], as[1]},
                                             BroadcastBinaryOp::Shape4{bs[0], bs[2], bs[3], bs[1]});
  } else if (!channels_last && as.size() <= 4 && bs.size() <= 4) {
    op = std::make_unique<BroadcastBinaryOp>(params, graph::padded_shape4(as),
                                             graph::padded_shape4(bs));
  } else {
    return nullptr;
  }
  op->inputs = {a, b};
  op->outputs = {out};
  op->label = std::string(graph::op_name(node.op())) + " '" + node.name() + "'" +
              (as == bs ? "" : " (broadcast)");
  return op;
}

std::unique_ptr<ExecOp> make_pool2d_nhwc(const Node& node, std::size_t in, std::size_t out) {
  const Shape& x = node.input(0)->shape();
  const DType dtype = node.input(0)->dtype();
  if (x.size() != 4 || (dtype != DType::Int8 && dtype != DType::UInt8)) return nullptr;
  auto op = std::make_unique<PoolOp>(graph::pool_params(node), x);
  op->inputs = {in};
  op->outputs = {out};
  op->label = std::string(graph::op_name(node.op())) + " '" + node.name() + "' (nhwc " +
              op->kernel_name() + ")";
  return op;
}

std::unique_ptr<ExecOp> make_quantized_lut(const Node& node, std::size_t in, std::size_t out) {
  const graph::Value* table = node.input(1);
  if (!table->has_data()) return nullptr;
  auto op = std::make_unique<LutOp>(table->data(), node.output()->type().numel());
  op->inputs = {in};
  op->outputs = {out};
  op->label = "quantized_lut '" + node.name() + "' (table " + std::string(kernels::lut_kernel_name()) + ")";
  return op;
}

std::unique_ptr<ExecOp> make_quantized_concat(const Node& node, std::vector<std::size_t> inputs,
                                              std::size_t out, bool channels_last) {
  kernels::ConcatParams p = graph::concat_params(node);
  const Shape& first = node.input(0)->shape();
  const auto rank = static_cast<std::int64_t>(first.size());
  std::int64_t dim = node.attr_int("dim");
  if (dim < 0) dim += rank;
  std::int64_t pixels = 1;
  if (channels_last) {  // NHWC images along C
    if (rank != 4 || dim != 1) return nullptr;
    pixels = first[0] * first[2] * first[3];
    for (std::size_t i = 0; i < p.inputs.size(); ++i) {
      p.inputs[i].channels = node.input(i)->shape()[1];
    }
  } else {  // row-major: rows over the dims before `dim`
    for (std::int64_t d = 0; d < dim; ++d) pixels *= first[static_cast<std::size_t>(d)];
    for (std::size_t i = 0; i < p.inputs.size(); ++i) {
      const Shape& s = node.input(i)->shape();
      std::int64_t channels = 1;
      for (auto d = static_cast<std::size_t>(dim); d < s.size(); ++d) channels *= s[d];
      p.inputs[i].channels = channels;
    }
  }
  for (const kernels::ConcatInput& in : p.inputs) {
    if (in.channels < 1) return nullptr;  // empty inputs: the interpreter's kernel
  }
  auto op = std::make_unique<ConcatOp>(std::move(p), pixels);
  op->inputs = std::move(inputs);
  op->outputs = {out};
  op->label = "quantized_concat '" + node.name() + "'" + (channels_last ? " (nhwc)" : "");
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
