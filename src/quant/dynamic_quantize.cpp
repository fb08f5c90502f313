// torch.quantize_per_tensor_dynamic: qparams from the tensor's own range, then quantize.
// Kept apart from choose_qparams.cpp so that observers do not pull in the quantize kernels.
#include "quantkit/core/error.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/choose_qparams.h"

namespace quantkit {

Tensor quantize_per_tensor_dynamic(const Tensor& x, DType dtype, bool reduce_range,
                                   DynamicQParams* qparams_out) {
  // Validates x (float32, non-empty, finite) and dtype (int8 / uint8).
  const DynamicQParams qp = choose_qparams_per_tensor_dynamic(x, dtype, reduce_range);
  // The quantized tensor keeps the dtype's full range whatever reduce_range did to the
  // qparams, as torch's does.
  Tensor q = quantize_per_tensor(x, qp.scale, qp.zero_point, QuantRange::full(dtype));
  if (qparams_out != nullptr) *qparams_out = qp;
  return q;
}

}  // namespace quantkit
