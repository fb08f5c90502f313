// The uniform fake-quantize autograd functions: straight-through per tensor / per channel and
// learnable (LSQ) per tensor / per channel. Forward and backward run quantkit's kernels on
// views of the torch tensors; the backward recomputes torch's mask from the saved input
// rather than saving a mask (quantkit's STE kernels take x).
#include "quantkit/torch/fake_quantize_functions.h"

#include <ATen/Functions.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "quantkit/quant/affine.h"
#include "quantkit/quant/fake_quantize.h"
#include "quantkit/torch/tensor_bridge.h"

namespace quantkit::torch {
namespace {

using ::torch::autograd::AutogradContext;
using ::torch::autograd::variable_list;

// The channel count of x along axis, checked first so parameter errors name the axis.
std::int64_t channels_along(const at::Tensor& x, std::int64_t axis, std::string_view where) {
  const std::int64_t ndim = x.dim();
  check_argument(ndim > 0 && -ndim <= axis && axis < ndim, where, "axis", axis,
                 "a dimension of x (x has " + std::to_string(ndim) + ")");
  return x.size(axis);
}

constexpr std::string_view kPerTensor = "quantkit::torch::fake_quantize_per_tensor";

struct FakeQuantizePerTensor : ::torch::autograd::Function<FakeQuantizePerTensor> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double scale,
                            std::int64_t zero_point, std::int64_t quant_min,
                            std::int64_t quant_max) {
    const BorrowedTensor in = borrow_float32(x, kPerTensor, "x");
    at::Tensor y = to_torch(
        quantkit::fake_quantize_per_tensor(in.view, scale, zero_point, quant_min, quant_max));
    ctx->save_for_backward({x});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["zero_point"] = zero_point;
    ctx->saved_data["quant_min"] = quant_min;
    ctx->saved_data["quant_max"] = quant_max;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const BorrowedTensor x = borrow_float32(ctx->get_saved_variables()[0], kPerTensor, "x");
    const BorrowedTensor dy = borrow_float32(grad_outputs[0], kPerTensor, "grad_output");
    at::Tensor dx = to_torch(quantkit::fake_quantize_per_tensor_backward(
        dy.view, x.view, ctx->saved_data["scale"].toDouble(), ctx->saved_data["zero_point"].toInt(),
        ctx->saved_data["quant_min"].toInt(), ctx->saved_data["quant_max"].toInt()));
    return {dx, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

constexpr std::string_view kPerChannel = "quantkit::torch::fake_quantize_per_channel";

// scales / zero_points are saved as tensors and re-read: AutogradContext has no slot for
// vectors, and they are small.
struct FakeQuantizePerChannel : ::torch::autograd::Function<FakeQuantizePerChannel> {
  struct Params {
    std::vector<double> scales;
    std::vector<std::int64_t> zero_points;
  };
  static Params read_params(const at::Tensor& x, const at::Tensor& scales,
                            const at::Tensor& zero_points, std::int64_t axis) {
    const std::int64_t channels = channels_along(x, axis, kPerChannel);
    const std::vector<float> s = float32_values(scales, kPerChannel, "scales", channels);
    return {std::vector<double>(s.begin(), s.end()),
            integer_values(zero_points, kPerChannel, "zero_points", channels)};
  }

  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& scales,
                            const at::Tensor& zero_points, std::int64_t axis,
                            std::int64_t quant_min, std::int64_t quant_max) {
    const Params p = read_params(x, scales, zero_points, axis);
    const BorrowedTensor in = borrow_float32(x, kPerChannel, "x");
    at::Tensor y = to_torch(quantkit::fake_quantize_per_channel(in.view, p.scales, p.zero_points,
                                                                axis, quant_min, quant_max));
    ctx->save_for_backward({x, scales, zero_points});
    ctx->saved_data["axis"] = axis;
    ctx->saved_data["quant_min"] = quant_min;
    ctx->saved_data["quant_max"] = quant_max;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const std::int64_t axis = ctx->saved_data["axis"].toInt();
    const Params p = read_params(saved[0], saved[1], saved[2], axis);
    const BorrowedTensor x = borrow_float32(saved[0], kPerChannel, "x");
    const BorrowedTensor dy = borrow_float32(grad_outputs[0], kPerChannel, "grad_output");
    at::Tensor dx = to_torch(quantkit::fake_quantize_per_channel_backward(
        dy.view, x.view, p.scales, p.zero_points, axis, ctx->saved_data["quant_min"].toInt(),
        ctx->saved_data["quant_max"].toInt()));
    return {dx, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

constexpr std::string_view kLearnablePerTensor =
    "quantkit::torch::fake_quantize_learnable_per_tensor";

struct LearnablePerTensor : ::torch::autograd::Function<LearnablePerTensor> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& scale,
                            const at::Tensor& zero_point, std::int64_t quant_min,
                            std::int64_t quant_max, double grad_factor) {
    const float s = float32_values(scale, kLearnablePerTensor, "scale", 1)[0];
    const float zp = float32_values(zero_point, kLearnablePerTensor, "zero_point", 1)[0];
    const BorrowedTensor in = borrow_float32(x, kLearnablePerTensor, "x");
    at::Tensor y = to_torch(quantkit::fake_quantize_learnable_per_tensor(in.view, s, zp, quant_min,
                                                                         quant_max, grad_factor));
    ctx->save_for_backward({x, scale, zero_point});
    ctx->saved_data["quant_min"] = quant_min;
    ctx->saved_data["quant_max"] = quant_max;
    ctx->saved_data["grad_factor"] = grad_factor;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const float s = float32_values(saved[1], kLearnablePerTensor, "scale", 1)[0];
    const float zp = float32_values(saved[2], kLearnablePerTensor, "zero_point", 1)[0];
    const BorrowedTensor x = borrow_float32(saved[0], kLearnablePerTensor, "x");
    const BorrowedTensor dy = borrow_float32(grad_outputs[0], kLearnablePerTensor, "grad_output");
    const LearnableFakeQuantizeGrads g = quantkit::fake_quantize_learnable_per_tensor_backward(
        dy.view, x.view, s, zp, ctx->saved_data["quant_min"].toInt(),
        ctx->saved_data["quant_max"].toInt(), ctx->saved_data["grad_factor"].toDouble());
    const auto options = at::TensorOptions().dtype(at::kFloat);
    return {to_torch(g.dx),
            at::full(saved[1].sizes(), g.dscale, options),
            at::full(saved[2].sizes(), g.dzero_point, options),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

constexpr std::string_view kLearnablePerChannel =
    "quantkit::torch::fake_quantize_learnable_per_channel";

struct LearnablePerChannel : ::torch::autograd::Function<LearnablePerChannel> {
  struct Params {
    std::vector<float> scales;
    std::vector<float> zero_points;
  };
  static Params read_params(const at::Tensor& x, const at::Tensor& scale,
                            const at::Tensor& zero_point, std::int64_t axis) {
    const std::int64_t channels = channels_along(x, axis, kLearnablePerChannel);
    return {float32_values(scale, kLearnablePerChannel, "scale", channels),
            float32_values(zero_point, kLearnablePerChannel, "zero_point", channels)};
  }

  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& scale,
                            const at::Tensor& zero_point, std::int64_t axis, std::int64_t quant_min,
                            std::int64_t quant_max, double grad_factor) {
    const Params p = read_params(x, scale, zero_point, axis);
    const BorrowedTensor in = borrow_float32(x, kLearnablePerChannel, "x");
    at::Tensor y = to_torch(quantkit::fake_quantize_learnable_per_channel(
        in.view, p.scales, p.zero_points, axis, quant_min, quant_max));
    ctx->save_for_backward({x, scale, zero_point});
    ctx->saved_data["axis"] = axis;
    ctx->saved_data["quant_min"] = quant_min;
    ctx->saved_data["quant_max"] = quant_max;
    ctx->saved_data["grad_factor"] = grad_factor;
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const variable_list saved = ctx->get_saved_variables();
    const std::int64_t axis = ctx->saved_data["axis"].toInt();
    const Params p = read_params(saved[0], saved[1], saved[2], axis);
    const BorrowedTensor x = borrow_float32(saved[0], kLearnablePerChannel, "x");
    const BorrowedTensor dy = borrow_float32(grad_outputs[0], kLearnablePerChannel, "grad_output");
    LearnableFakeQuantizePerChannelGrads g = quantkit::fake_quantize_learnable_per_channel_backward(
        dy.view, x.view, p.scales, p.zero_points, axis, ctx->saved_data["quant_min"].toInt(),
        ctx->saved_data["quant_max"].toInt(), ctx->saved_data["grad_factor"].toDouble());
    const auto options = at::TensorOptions().dtype(at::kFloat);
    return {to_torch(g.dx),
            at::tensor(g.dscale, options).reshape(saved[1].sizes()),
            at::tensor(g.dzero_point, options).reshape(saved[2].sizes()),
            at::Tensor(),
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

at::Tensor fake_quantize_per_tensor(const at::Tensor& x, double scale, std::int64_t zero_point,
                                    std::int64_t quant_min, std::int64_t quant_max) {
  return FakeQuantizePerTensor::apply(x, scale, zero_point, quant_min, quant_max);
}

at::Tensor fake_quantize_per_channel(const at::Tensor& x, const at::Tensor& scales,
                                     const at::Tensor& zero_points, std::int64_t axis,
                                     std::int64_t quant_min, std::int64_t quant_max) {
  return FakeQuantizePerChannel::apply(x, scales, zero_points, axis, quant_min, quant_max);
}

at::Tensor fake_quantize_learnable_per_tensor(const at::Tensor& x, const at::Tensor& scale,
                                              const at::Tensor& zero_point, std::int64_t quant_min,
                                              std::int64_t quant_max, double grad_factor) {
  return LearnablePerTensor::apply(x, scale, zero_point, quant_min, quant_max, grad_factor);
}

at::Tensor fake_quantize_learnable_per_channel(const at::Tensor& x, const at::Tensor& scale,
                                               const at::Tensor& zero_point, std::int64_t axis,
                                               std::int64_t quant_min, std::int64_t quant_max,
                                               double grad_factor) {
  return LearnablePerChannel::apply(x, scale, zero_point, axis, quant_min, quant_max, grad_factor);
}

}  // namespace quantkit::torch
