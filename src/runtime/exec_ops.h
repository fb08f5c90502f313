#pragma once
// The runtime's ops (create once at planning, run many times): each reads and writes slots
// of a Frame (exec.h) and splits its work across the thread pool by independent outputs.
#include <cstddef>
#include <memory>
#include <vector>

#include "exec.h"
#include "fused_ops.h"
#include "quantkit/graph/graph.h"

namespace quantkit::runtime::detail {

// Copies a node's 2-D window attributes (kernel from `kernel` — the weight's or the
// kernel_size attribute — and the node's stride, padding, dilation: symmetric padding) into
// a kernel params struct with int fields kernel_h/w, stride_h/w, dilation_h/w, pad_*.
template <typename Params>
void set_window(Params& p, const graph::Node& node, std::int64_t kernel_h, std::int64_t kernel_w) {
  const auto& stride = node.attr_ints("stride");
  const auto& padding = node.attr_ints("padding");
  const auto& dilation = node.attr_ints("dilation");
  p.kernel_h = static_cast<int>(kernel_h);
  p.kernel_w = static_cast<int>(kernel_w);
  p.stride_h = static_cast<int>(stride[0]);
  p.stride_w = static_cast<int>(stride[1]);
  p.dilation_h = static_cast<int>(dilation[0]);
  p.dilation_w = static_cast<int>(dilation[1]);
  p.pad_top = p.pad_bottom = static_cast<int>(padding[0]);
  p.pad_left = p.pad_right = static_cast<int>(padding[1]);
}

// 4-D int8/uint8 bytes between the logical (NCHW) and the channels-last layout.
std::unique_ptr<ExecOp> make_layout_conversion(const SlotInfo& from, std::size_t from_slot,
                                               std::size_t to_slot, Layout target);

// quantize_per_tensor / dequantize_per_tensor with static qparams on logical tensors
// (quant/affine.h's kernels: the interpreter's arithmetic). Null when the node takes its
// qparams as run-time inputs.
std::unique_ptr<ExecOp> make_quantize(const graph::Node& node, std::size_t in, std::size_t out);
std::unique_ptr<ExecOp> make_dequantize(const graph::Node& node, std::size_t in,
                                        std::size_t out);

// quantized_add / quantized_mul (kernels/eltwise.h): two same-shape tensors in the same
// layout (elementwise: any layout), or NHWC images that broadcast when `channels_last`; null
// otherwise.
std::unique_ptr<ExecOp> make_quantized_binary(const graph::Node& node, std::size_t a,
                                              std::size_t b, std::size_t out, bool channels_last);

// quantized_lut (kernels/lut.h) in any layout (elementwise); null when the table is not a
// constant.
std::unique_ptr<ExecOp> make_quantized_lut(const graph::Node& node, std::size_t in,
                                           std::size_t out);

// quantized_concat (kernels/concat.h): NHWC images along channels when `channels_last`, else
// logical tensors along any dim; null when the kernel cannot take it.
std::unique_ptr<ExecOp> make_quantized_concat(const graph::Node& node,
                                              std::vector<std::size_t> inputs, std::size_t out,
                                              bool channels_last);

// quantized_conv2d on NHWC slots (dense, grouped and depthwise kernels) and
// quantized_linear (a 1×1 convolution over the rows). Null when the node's weights are not
// constants or its parameters are outside what the kernels take (the planner then falls
// back to the interpreter's kernel).
std::unique_ptr<ExecOp> make_quantized_conv2d_nhwc(const graph::Node& node, std::size_t in,
                                                   std::size_t out);
std::unique_ptr<ExecOp> make_quantized_linear(const graph::Node& node, std::size_t in,
                                              std::size_t out);

// max_pool2d on int8/uint8, quantized_avg_pool2d, quantized_adaptive_avg_pool2d on NHWC
// slots (kernels/pool.h); null for other dtypes or ranks.
std::unique_ptr<ExecOp> make_pool2d_nhwc(const graph::Node& node, std::size_t in,
                                         std::size_t out);

// Any node through the interpreter's kernel (or a FusedOp of fused_ops.h), inputs and
// outputs logical; its results are copied into the output slots.
std::unique_ptr<ExecOp> make_fallback(const graph::Node& node, std::vector<std::size_t> inputs,
                                      std::vector<std::size_t> outputs,
                                      std::unique_ptr<FusedOp> fused);

}  // namespace quantkit::runtime::detail
