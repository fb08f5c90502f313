// Data movement that picks input elements by index (slice, gather, expand): each output
// element is one input element, found per dim through a table of input indices, so the
// three ops share one copy loop. Byte copies: any dtype.
#include <cstring>
#include <vector>

#include "../type_inference.h"
#include "reference_ops.h"

namespace quantkit::graph::ref {
namespace {

// out[i_0, …, i_{r-1}] = x[source[0][i_0], …, source[r-1][i_{r-1}]], x of the same rank r.
Tensor copy_by_index(const Tensor& x, const Shape& out_shape,
                     const std::vector<std::vector<std::int64_t>>& source) {
  Tensor out = Tensor::empty(out_shape, x.dtype());
  const std::size_t rank = out_shape.size();
  if (out.numel() == 0) return out;
  if (rank == 0) return x.clone();
  // Row-major element strides of x (x.shape() and out_shape have the same rank).
  Shape strides = x.shape();
  std::int64_t stride = 1;
  for (std::size_t d = rank; d-- > 0;) {
    const std::int64_t size = strides[d];
    strides[d] = stride;
    stride *= size;
  }
  const std::size_t elem = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw_data());
  auto* dst = static_cast<std::byte*>(out.raw_data());
  Shape index(rank, 0);
  for (std::int64_t o = 0; o < out.numel(); ++o) {
    std::int64_t offset = 0;
    for (std::size_t d = 0; d < rank; ++d) offset += source[d][static_cast<std::size_t>(index[d])] * strides[d];
    std::memcpy(dst + static_cast<std::size_t>(o) * elem, src + static_cast<std::size_t>(offset) * elem,
                elem);
    for (std::size_t d = rank; d-- > 0;) {
      if (++index[d] < out_shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

std::vector<std::int64_t> identity_indices(std::int64_t size) {
  std::vector<std::int64_t> v(static_cast<std::size_t>(size));
  for (std::int64_t i = 0; i < size; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

}  // namespace

Tensor slice(const Tensor& x, std::span<const std::int64_t> dims,
             std::span<const std::int64_t> starts, std::span<const std::int64_t> ends,
             std::span<const std::int64_t> steps) {
  const Shape& s = x.shape();
  std::vector<std::vector<std::int64_t>> source;
  for (std::int64_t size : s) source.push_back(identity_indices(size));
  Shape out_shape = s;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const auto d = static_cast<std::size_t>(dims[i] < 0 ? dims[i] + x.dim() : dims[i]);
    const infer::SliceRange r = infer::slice_range(s[d], starts[i], ends[i], steps[i]);
    out_shape[d] = r.count;
    std::vector<std::int64_t> picked(static_cast<std::size_t>(r.count));
    for (std::int64_t j = 0; j < r.count; ++j) picked[static_cast<std::size_t>(j)] = r.first + j * r.step;
    source[d] = std::move(picked);
  }
  return copy_by_index(x, out_shape, source);
}

Tensor gather(const Tensor& x, std::int64_t dim, std::span<const std::int64_t> indices) {
  const Shape& s = x.shape();
  const auto d = static_cast<std::size_t>(dim < 0 ? dim + x.dim() : dim);
  std::vector<std::vector<std::int64_t>> source;
  for (std::int64_t size : s) source.push_back(identity_indices(size));
  std::vector<std::int64_t> picked(indices.size());
  for (std::size_t j = 0; j < indices.size(); ++j)
    picked[j] = indices[j] < 0 ? indices[j] + s[d] : indices[j];
  source[d] = std::move(picked);
  Shape out_shape = s;
  out_shape[d] = static_cast<std::int64_t>(indices.size());
  return copy_by_index(x, out_shape, source);
}

Tensor expand(const Tensor& x, const Shape& out_shape) {
  // x aligned right against the output (leading 1s); a dim of 1 repeats its one element.
  Shape aligned(out_shape.size() - x.shape().size(), 1);
  aligned.insert(aligned.end(), x.shape().begin(), x.shape().end());
  std::vector<std::vector<std::int64_t>> source;
  for (std::size_t d = 0; d < out_shape.size(); ++d) {
    source.push_back(aligned[d] == 1 ? std::vector<std::int64_t>(static_cast<std::size_t>(out_shape[d]), 0)
                                     : identity_indices(out_shape[d]));
  }
  return copy_by_index(x.reshape(aligned), out_shape, source);
}

}  // namespace quantkit::graph::ref
