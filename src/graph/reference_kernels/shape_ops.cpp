// Data movement: cat and transpose (byte copies, any dtype).
#include <cstdint>
#include <cstring>
#include <vector>

#include "reference_ops.h"

namespace quantkit::graph::ref {

Tensor cat(std::span<const Tensor> xs, std::int64_t dim) {
  const Tensor& first = xs.front();
  if (dim < 0) dim += first.dim();
  Shape shape = first.shape();
  shape[static_cast<std::size_t>(dim)] = 0;
  for (const Tensor& t : xs) shape[static_cast<std::size_t>(dim)] += t.size(dim);
  Tensor out = Tensor::empty(shape, first.dtype());
  const std::size_t elem = dtype_size(first.dtype());
  std::int64_t outer = 1;
  for (std::int64_t d = 0; d < dim; ++d) outer *= first.size(d);
  // Each input contributes a contiguous block of size(dim) * inner elements per outer index.
  std::int64_t inner = 1;
  for (std::int64_t d = dim + 1; d < first.dim(); ++d) inner *= first.size(d);
  const std::int64_t out_block = shape[static_cast<std::size_t>(dim)] * inner;
  auto* dst = static_cast<std::byte*>(out.raw_data());
  std::int64_t offset = 0;
  for (const Tensor& t : xs) {
    const std::int64_t block = t.size(dim) * inner;
    const auto* src = static_cast<const std::byte*>(t.raw_data());
    for (std::int64_t o = 0; o < outer && block > 0; ++o) {
      std::memcpy(dst + static_cast<std::size_t>(o * out_block + offset) * elem,
                  src + static_cast<std::size_t>(o * block) * elem,
                  static_cast<std::size_t>(block) * elem);
    }
    offset += block;
  }
  return out;
}

Tensor transpose(const Tensor& x, std::int64_t dim0, std::int64_t dim1) {
  const std::int64_t rank = x.dim();
  if (rank == 0) return x.clone();
  if (dim0 < 0) dim0 += rank;
  if (dim1 < 0) dim1 += rank;
  Shape shape = x.shape();
  std::swap(shape[static_cast<std::size_t>(dim0)], shape[static_cast<std::size_t>(dim1)]);
  Tensor out = Tensor::empty(shape, x.dtype());
  // Input strides permuted into output order, then an odometer walk over the output.
  std::vector<std::int64_t> in_strides(static_cast<std::size_t>(rank));
  std::int64_t stride = 1;
  for (std::int64_t d = rank; d-- > 0;) {
    in_strides[static_cast<std::size_t>(d)] = stride;
    stride *= x.size(d);
  }
  std::swap(in_strides[static_cast<std::size_t>(dim0)], in_strides[static_cast<std::size_t>(dim1)]);
  const std::size_t elem = dtype_size(x.dtype());
  const auto* src = static_cast<const std::byte*>(x.raw_data());
  auto* dst = static_cast<std::byte*>(out.raw_data());
  std::vector<std::int64_t> index(static_cast<std::size_t>(rank), 0);
  std::int64_t in_offset = 0;
  for (std::int64_t i = 0; i < out.numel(); ++i) {
    std::memcpy(dst + static_cast<std::size_t>(i) * elem,
                src + static_cast<std::size_t>(in_offset) * elem, elem);
    for (std::size_t d = static_cast<std::size_t>(rank); d-- > 0;) {
      ++index[d];
      in_offset += in_strides[d];
      if (index[d] < shape[d]) break;
      in_offset -= in_strides[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

}  // namespace quantkit::graph::ref
