#pragma once
// Kernel parameters of the fused integer ops, read from a node's attributes. The graph's
// reference kernels (what the interpreter runs) and the runtime's fast ops both build them
// here, so both run the one definition of kernels/eltwise.h, pool.h and concat.h.
#include <array>
#include <cstdint>

#include "quantkit/graph/graph.h"
#include "quantkit/kernels/concat.h"
#include "quantkit/kernels/eltwise.h"
#include "quantkit/kernels/pool.h"

namespace quantkit::graph {

// quantized_add / quantized_mul.
kernels::BinaryParams binary_params(const Node& node);

// max_pool2d on int8 / uint8 input, quantized_avg_pool2d, quantized_adaptive_avg_pool2d:
// window, output size and requantization (the input's shape gives channels and out_h/out_w).
kernels::PoolParams pool_params(const Node& node);

// quantized_concat: the dtype, the output's and every input's scale and zero point; each
// input's `channels` (and strides) are left for the caller, who knows the layout.
kernels::ConcatParams concat_params(const Node& node);

// A shape of rank <= 4 padded with leading 1s to rank 4 (the binary kernels' 4-d shapes).
std::array<std::int64_t, 4> padded_shape4(const Shape& shape);

}  // namespace quantkit::graph
