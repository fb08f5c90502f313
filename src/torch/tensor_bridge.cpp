// torch::Tensor <-> quantkit::Tensor without copies where the layouts allow it.
#include "quantkit/torch/tensor_bridge.h"

#include <ATen/Functions.h>

#include <cstdint>
#include <string>
#include <vector>

#include "quantkit/core/error.h"

namespace quantkit::torch {
namespace {

// What every tensor a kernel reads must be: defined, on the CPU, dense.
void check_dense_cpu(const at::Tensor& t, std::string_view where, std::string_view arg) {
  check_argument(t.defined(), where, arg, "an undefined tensor", "a defined tensor");
  check_argument(t.device().is_cpu(), where, arg, t.device().str(), "a CPU tensor");
  check_argument(t.layout() == at::kStrided && !t.is_quantized(), where, arg,
                 std::string(c10::toString(t.layout())) + (t.is_quantized() ? " quantized" : ""),
                 "a dense (strided, non-quantized) tensor");
}

// A 1-D CPU tensor of `expected_numel` elements (a per-channel parameter, or the
// one-element scale / zero point of a per-tensor op).
void check_parameter(const at::Tensor& t, std::string_view where, std::string_view arg,
                     std::int64_t expected_numel) {
  check_dense_cpu(t, where, arg);
  const bool one_element = expected_numel == 1 && t.numel() == 1;
  check_argument(one_element || (t.dim() == 1 && t.numel() == expected_numel), where, arg,
                 "shape " + c10::str(t.sizes()),
                 "a 1-D tensor of " + std::to_string(expected_numel) + " elements");
}

}  // namespace

BorrowedTensor borrow_float32(const at::Tensor& t, std::string_view where, std::string_view arg) {
  check_dense_cpu(t, where, arg);
  check_argument(t.scalar_type() == at::kFloat, where, arg, c10::toString(t.scalar_type()),
                 "Float (float32)");
  BorrowedTensor borrowed{t.contiguous(), Tensor()};
  const auto sizes = borrowed.holder.sizes();
  borrowed.view = Tensor::from_blob(borrowed.holder.data_ptr(), Shape(sizes.begin(), sizes.end()),
                                    DType::Float32);
  return borrowed;
}

std::vector<float> float32_values(const at::Tensor& t, std::string_view where, std::string_view arg,
                                  std::int64_t expected_numel) {
  check_parameter(t, where, arg, expected_numel);
  check_argument(t.scalar_type() == at::kFloat, where, arg, c10::toString(t.scalar_type()),
                 "Float (float32)");
  const at::Tensor dense = t.detach().contiguous();
  const float* p = dense.data_ptr<float>();
  return std::vector<float>(p, p + dense.numel());
}

std::vector<std::int64_t> integer_values(const at::Tensor& t, std::string_view where,
                                         std::string_view arg, std::int64_t expected_numel) {
  check_parameter(t, where, arg, expected_numel);
  check_argument(t.scalar_type() == at::kInt || t.scalar_type() == at::kLong, where, arg,
                 c10::toString(t.scalar_type()), "Int (int32) or Long (int64)");
  const at::Tensor dense = t.detach().to(at::kLong).contiguous();
  const std::int64_t* p = dense.data_ptr<std::int64_t>();
  return std::vector<std::int64_t>(p, p + dense.numel());
}

at::Tensor to_torch(const Tensor& t) {
  check_argument(t.dtype() == DType::Float32, "quantkit::torch::to_torch", "t",
                 dtype_name(t.dtype()), "float32");
  const Tensor owned = t.owns_storage() ? t : t.clone();
  const std::vector<std::int64_t> sizes(owned.shape().begin(), owned.shape().end());
  // The deleter's copy of `owned` shares its storage: freed when torch frees the tensor.
  return at::from_blob(
      const_cast<void*>(owned.raw_data()), sizes, [keep = owned](void*) {},
      at::TensorOptions().dtype(at::kFloat));
}

}  // namespace quantkit::torch
