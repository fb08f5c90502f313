#pragma once
// Internal: argument checks shared by QConv2dNhwc and conv2d_nhwc_reference
// (include/quantkit/kernels/conv_nhwc.h).
#include <optional>

#include "quantkit/core/tensor.h"
#include "quantkit/kernels/conv_nhwc.h"

namespace quantkit::kernels::conv_detail {

// Throws Error naming `where` and the offending argument unless params, weight (int8
// [OC, IC/groups, KH, KW]) and bias (int32 [OC] or none) describe a valid convolution.
void validate_conv2d_nhwc(const char* where, const QConv2dNhwcParams& params, const Tensor& weight,
                          const std::optional<Tensor>& bias);

// Throws Error unless batch >= 0 and the kernel fits the padded height × width input.
ConvOutputSize checked_output_size(const char* where, const QConv2dNhwcParams& params,
                                   std::int64_t batch, std::int64_t height, std::int64_t width);

}  // namespace quantkit::kernels::conv_detail
