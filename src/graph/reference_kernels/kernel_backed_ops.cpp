// Reference kernels of the fused ops whose definition is their kernel's portable reference
// (quantized_mul, quantized_lut, quantized_concat, the quantized average pools): the
// interpreter runs exactly what the runtime's optimized kernels are tested against, only on
// the graph's layout (NCHW images are transposed to the kernels' NHWC and back).
#include <cstring>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/fused_op_params.h"
#include "quantkit/kernels/lut.h"
#include "reference_ops.h"

namespace quantkit::graph::ref {

Tensor quantized_binary(const Tensor& a, const Tensor& b, const kernels::BinaryParams& p) {
  kernels::BinaryElementwise op(p);
  const auto out4 = op.setup(padded_shape4(a.shape()), padded_shape4(b.shape()));
  const std::size_t rank = std::max(a.shape().size(), b.shape().size());
  const Shape out_shape(out4.end() - static_cast<std::ptrdiff_t>(rank), out4.end());
  Tensor out = Tensor::empty(out_shape, p.dtype);
  op.run_reference(a.raw_data(), b.raw_data(), out.raw_data(), 0, op.output_pixels());
  return out;
}

Tensor quantized_lut(const Tensor& x, const Tensor& table, DType dtype) {
  kernels::Lut256 t;
  std::memcpy(t.data(), table.raw_data(), t.size());
  Tensor out = Tensor::empty(x.shape(), dtype);
  kernels::lut_apply_reference(t, static_cast<const std::uint8_t*>(x.raw_data()),
                               static_cast<std::uint8_t*>(out.raw_data()), x.numel());
  return out;
}

Tensor quantized_concat(std::span<const Tensor> xs, std::int64_t dim,
                        const kernels::ConcatParams& params) {
  // Row-major cat along `dim` is a channel concat with pixels = the product of the dims
  // before it and each input's channels = the product of its dims from `dim` on.
  const Shape& first = xs[0].shape();
  const auto rank = static_cast<std::int64_t>(first.size());
  const auto d = static_cast<std::size_t>(dim < 0 ? dim + rank : dim);
  kernels::ConcatParams p = params;
  Shape out_shape = first;
  out_shape[d] = 0;
  std::vector<const void*> inputs;
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    out_shape[d] += s[d];
    std::int64_t channels = 1;
    for (std::size_t k = d; k < s.size(); ++k) channels *= s[k];
    p.inputs[i].channels = channels;
    inputs.push_back(xs[i].raw_data());
  }
  std::int64_t pixels = 1;
  for (std::size_t k = 0; k < d; ++k) pixels *= first[k];
  Tensor out = Tensor::empty(out_shape, p.dtype);
  kernels::concat_reference(p, inputs, out.raw_data(), 0, pixels);
  return out;
}

Tensor quantized_pool2d(const Tensor& x, const kernels::PoolParams& p) {
  const Shape& s = x.shape();
  const bool batched = s.size() == 4;
  const std::int64_t n = batched ? s[0] : 1;
  const std::int64_t c = s[s.size() - 3], h = s[s.size() - 2], w = s[s.size() - 1];
  const Tensor x4 = x.reshape({n, c, h, w});
  const Tensor nhwc = transpose(transpose(x4, 1, 2), 2, 3);
  const kernels::PoolShape shape = kernels::pool_shape(p, n, h, w);
  Tensor y = Tensor::empty({n, shape.out_h, shape.out_w, c}, p.dtype);
  kernels::pool_reference(p, shape, nhwc.raw_data(), y.raw_data(), 0, shape.output_pixels());
  Tensor nchw = transpose(transpose(y, 2, 3), 1, 2);
  if (!batched) return nchw.reshape({c, shape.out_h, shape.out_w});
  return nchw;
}

}  // namespace quantkit::graph::ref
