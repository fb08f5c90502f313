#pragma once
// Zero-copy conversions between LibTorch tensors and quantkit::Tensor, for the autograd
// functions (autograd_functions.h): quantkit's kernels read dense float32 CPU memory, so a
// torch tensor is viewed in place when it already is one, and a kernel's result is handed
// to torch without a copy (the torch tensor keeps the quantkit storage alive).
//
// Namespace quantkit::torch: inside it, name LibTorch's types as at:: or ::torch::.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "quantkit/core/tensor.h"

namespace quantkit::torch {

// A torch tensor borrowed by a kernel: `view` reads the bytes of `holder`, which is the
// input itself when it was contiguous, else its contiguous copy. Keep the struct alive as
// long as `view` is used.
struct BorrowedTensor {
  at::Tensor holder;
  Tensor view;
};

// t must be a defined, strided, non-quantized float32 CPU tensor; anything else throws
// quantkit::Error naming `where`, `arg` and what was received (no silent dtype or device
// conversion: the kernels are float32 CPU and bit-exactness depends on it).
BorrowedTensor borrow_float32(const at::Tensor& t, std::string_view where, std::string_view arg);

// The elements of a 1-D CPU parameter tensor (scales, zero points) with `expected_numel`
// elements: float32 only / int32 or int64 only, each throwing quantkit::Error otherwise.
std::vector<float> float32_values(const at::Tensor& t, std::string_view where, std::string_view arg,
                                  std::int64_t expected_numel);
std::vector<std::int64_t> integer_values(const at::Tensor& t, std::string_view where,
                                         std::string_view arg, std::int64_t expected_numel);

// A torch tensor over t's bytes (t float32). Owned storage is shared, not copied; a
// non-owning quantkit view is cloned first, since its memory's lifetime is not known here.
at::Tensor to_torch(const Tensor& t);

}  // namespace quantkit::torch
