#pragma once
// The reference kernel of every op as the op registry holds it (internal to
// src/graph): one function per op, named like the op, reading the node's
// attributes and calling the tensor-level kernels of reference_ops.h.
// op_registry.cpp registers each beside its schema; the interpreter and
// evaluate_node run them through OpSchema::reference.
#include <span>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"

namespace quantkit::graph::kernel {

using Inputs = std::span<const Tensor>;
using Outputs = std::vector<Tensor>;

// ---- float32 compute ----
Outputs linear(const Node& n, Inputs in);
Outputs conv2d(const Node& n, Inputs in);
Outputs add(const Node& n, Inputs in);
Outputs sub(const Node& n, Inputs in);
Outputs mul(const Node& n, Inputs in);
Outputs div(const Node& n, Inputs in);
Outputs relu(const Node& n, Inputs in);
Outputs hardtanh(const Node& n, Inputs in);
Outputs clamp(const Node& n, Inputs in);
Outputs max_pool2d(const Node& n, Inputs in);
Outputs avg_pool2d(const Node& n, Inputs in);
Outputs adaptive_avg_pool2d(const Node& n, Inputs in);
Outputs batch_norm(const Node& n, Inputs in);
Outputs flatten(const Node& n, Inputs in);  // a view of the input
Outputs reshape(const Node& n, Inputs in);  // a view of the input
Outputs transpose(const Node& n, Inputs in);
Outputs cat(const Node& n, Inputs in);
Outputs softmax(const Node& n, Inputs in);
// ---- quantization ----
Outputs quantize_per_tensor(const Node& n, Inputs in);
Outputs dequantize_per_tensor(const Node& n, Inputs in);
Outputs quantize_per_channel(const Node& n, Inputs in);
Outputs dequantize_per_channel(const Node& n, Inputs in);
Outputs choose_qparams(const Node& n,
                       Inputs in);  // two outputs: scale, zero_point
Outputs choose_qparams_per_token(const Node& n, Inputs in);  // two outputs
Outputs quantize_per_group(const Node& n, Inputs in);
Outputs dequantize_per_group(const Node& n, Inputs in);
// ---- integer reference representation ----
Outputs cast(const Node& n, Inputs in);
Outputs round(const Node& n, Inputs in);
Outputs integer_linear(const Node& n, Inputs in);
Outputs integer_conv2d(const Node& n, Inputs in);
Outputs integer_linear_grouped(const Node& n, Inputs in);
Outputs sum(const Node& n, Inputs in);
// ---- more float32 compute ----
Outputs sigmoid(const Node& n, Inputs in);
Outputs tanh(const Node& n, Inputs in);
Outputs hardsigmoid(const Node& n, Inputs in);
Outputs erf(const Node& n, Inputs in);
Outputs exp(const Node& n, Inputs in);
Outputs neg(const Node& n, Inputs in);
Outputs sqrt(const Node& n, Inputs in);
Outputs pow(const Node& n, Inputs in);
Outputs mean(const Node& n, Inputs in);
Outputs layer_norm(const Node& n, Inputs in);
// ---- data movement for transformers ----
Outputs slice(const Node& n, Inputs in);
Outputs gather(const Node& n, Inputs in);
Outputs expand(const Node& n, Inputs in);
Outputs hardswish(const Node& n, Inputs in);
Outputs leaky_relu(const Node& n, Inputs in);
Outputs matmul(const Node& n, Inputs in);
Outputs pad2d(const Node& n, Inputs in);
// ---- resampling (resample.cpp) ----
Outputs conv_transpose2d(const Node& n, Inputs in);
Outputs resize(const Node& n, Inputs in);
// ---- stateful: observe is the identity (the input itself), fake_quantize an
// Error; the interpreter's StatefulKernel evaluates both when installed ----
Outputs observe(const Node& n, Inputs in);
Outputs fake_quantize(const Node& n, Inputs in);
// ---- APoT ----
Outputs apot_dequantize(const Node& n, Inputs in);
// ---- fused integer kernels ----
Outputs quantized_linear(const Node& n, Inputs in);
Outputs quantized_conv2d(const Node& n, Inputs in);
Outputs quantized_add(const Node& n, Inputs in);
Outputs quantized_mul(const Node& n, Inputs in);
Outputs quantized_lut(const Node& n, Inputs in);
Outputs quantized_concat(const Node& n, Inputs in);
Outputs quantized_avg_pool2d(const Node& n, Inputs in);
Outputs quantized_adaptive_avg_pool2d(const Node& n, Inputs in);
Outputs dynamic_quantized_linear(const Node& n, Inputs in);
Outputs dynamic_quantized_linear_per_token(const Node& n, Inputs in);

}  // namespace quantkit::graph::kernel
