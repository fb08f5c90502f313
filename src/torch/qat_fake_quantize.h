#pragma once
// One fake_quantize node of a QAT graph, run on torch tensors: the prepared model's place
// (pt2e::ObservedPlace) observes and fake-quantizes through the autograd functions of
// fake_quantize_functions.h, keeping its state where convert_pt2e reads it.
#include <ATen/core/Tensor.h>

#include "quantkit/pt2e/prepare.h"

namespace quantkit::torch::detail {

// `observe`: the module is in train mode (QatModule), so an enabled observer sees x.
// Uniform places (FakeQuantize) follow torch.ao's FakeQuantize / FusedMovingAvgObsFakeQuantize:
// observer enabled -> observe x.detach() (a zero-copy view when contiguous) and refresh the
// qparams from the observer; fake quant enabled -> fake_quantize_per_tensor / _per_channel
// with the place's current qparams; disabled -> x. Dynamic specs fake-quantize with the
// batch's own qparams (choose_qparams_tensor, what convert_pt2e's choose_qparams computes at
// run time), in train and eval mode alike; the observer still records in train mode.
// APoT places observe the weight and apot_fake_quantize with the observer's levels.
// Throws quantkit::Error when a static place has no qparams yet (fake quant enabled before any
// train-mode forward with observers enabled), or for float zero points per channel.
at::Tensor fake_quantize_place(pt2e::ObservedPlace& place, const at::Tensor& x, bool observe);

}  // namespace quantkit::torch::detail
