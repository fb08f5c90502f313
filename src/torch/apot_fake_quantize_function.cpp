// APoT fake quantize as an autograd function: forward = quantkit's float32 nearest level
// (apot_fake_quantize_f32), backward = its straight-through estimator
// dy * (-alpha <= x <= alpha) (apot_fake_quantize_backward), with alpha the quantizer's.
#include <torch/csrc/autograd/custom_function.h>

#include <string_view>

#include "quantkit/apot/fake_quantize.h"
#include "quantkit/torch/fake_quantize_functions.h"
#include "quantkit/torch/tensor_bridge.h"

namespace quantkit::torch {
namespace {

using ::torch::autograd::AutogradContext;
using ::torch::autograd::variable_list;

constexpr std::string_view kApot = "quantkit::torch::apot_fake_quantize";

struct ApotFakeQuantize : ::torch::autograd::Function<ApotFakeQuantize> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x,
                            const apot::ApotQuantizer* quantizer) {
    const BorrowedTensor in = borrow_float32(x, kApot, "x");
    at::Tensor y = to_torch(apot::apot_fake_quantize_f32(in.view, *quantizer));
    ctx->save_for_backward({x});
    // Only alpha is needed later: the quantizer need not outlive the forward call.
    ctx->saved_data["alpha"] = static_cast<double>(quantizer->qparams().alpha);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const BorrowedTensor x = borrow_float32(ctx->get_saved_variables()[0], kApot, "x");
    const BorrowedTensor dy = borrow_float32(grad_outputs[0], kApot, "grad_output");
    const auto alpha = static_cast<float>(ctx->saved_data["alpha"].toDouble());
    return {to_torch(apot::apot_fake_quantize_backward(dy.view, x.view, alpha)), at::Tensor()};
  }
};

}  // namespace

at::Tensor apot_fake_quantize(const at::Tensor& x, const apot::ApotQuantizer& quantizer) {
  return ApotFakeQuantize::apply(x, &quantizer);
}

}  // namespace quantkit::torch
