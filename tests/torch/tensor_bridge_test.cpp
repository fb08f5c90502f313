// torch <-> quantkit tensor conversions: views and hand-overs are zero-copy
// where the layout allows, the hand-over keeps quantkit's storage alive, and
// what the kernels cannot read is refused with an error naming the function and
// the argument.
#include "quantkit/torch/tensor_bridge.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"

namespace quantkit {
namespace {

TEST(BorrowFloat32, ViewsAContiguousTensorInPlace) {
  const at::Tensor t = at::arange(12, at::kFloat).reshape({3, 4});
  const torch::BorrowedTensor b = torch::borrow_float32(t, "test", "x");
  EXPECT_EQ(b.view.raw_data(), t.data_ptr());
  EXPECT_EQ(b.view.shape(), (Shape{3, 4}));
  EXPECT_FALSE(b.view.owns_storage());
}

TEST(BorrowFloat32, CopiesAStridedTensorInLogicalOrder) {
  const at::Tensor t = at::arange(12, at::kFloat).reshape({3, 4}).t();
  const torch::BorrowedTensor b = torch::borrow_float32(t, "test", "x");
  EXPECT_NE(b.view.raw_data(), t.data_ptr());
  EXPECT_EQ(b.view.shape(), (Shape{4, 3}));
  EXPECT_EQ(b.view.to_vector<float>(), (std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
}

TEST(BorrowFloat32, RefusesOtherDtypesNamingTheArgument) {
  for (const auto dtype : {at::kDouble, at::kHalf, at::kInt}) {
    try {
      torch::borrow_float32(at::ones({2}, dtype), "fq", "grad_output");
      FAIL() << "no error for " << dtype;
    } catch (const Error &e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("fq: invalid argument 'grad_output'"), std::string::npos) << what;
      EXPECT_NE(what.find("Float"), std::string::npos) << what;
    }
  }
  EXPECT_THROW(torch::borrow_float32(at::Tensor(), "fq", "x"), Error);
}

TEST(ToTorch, SharesOwnedStorageAndKeepsItAlive) {
  at::Tensor t;
  const void *bytes = nullptr;
  {
    const Tensor owned = Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f}, {3});
    bytes = owned.raw_data();
    t = torch::to_torch(owned);
  }  // the quantkit handle is gone; the torch tensor still holds the storage
     // (ASan checks)
  EXPECT_EQ(t.data_ptr(), bytes);
  EXPECT_EQ(t.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(t, at::tensor({1.5f, -2.0f, 3.25f})));
}

TEST(ToTorch, ClonesANonOwningView) {
  std::vector<float> memory = {1.0f, 2.0f};
  const Tensor view = Tensor::from_blob(memory.data(), {2}, DType::Float32);
  const at::Tensor t = torch::to_torch(view);
  EXPECT_NE(t.data_ptr(), static_cast<void *>(memory.data()));
  memory[0] = 9.0f;  // the caller may reuse its memory at once
  EXPECT_EQ(t[0].item<float>(), 1.0f);
}

TEST(ParameterValues, ReadsOneDimensionalParametersAndChecksTheirSize) {
  EXPECT_EQ(torch::float32_values(at::tensor({0.5f, 0.25f}), "fq", "scales", 2),
            (std::vector<float>{0.5f, 0.25f}));
  EXPECT_EQ(torch::integer_values(at::tensor({3, -4}, at::kInt), "fq", "zero_points", 2),
            (std::vector<std::int64_t>{3, -4}));
  // A per-tensor parameter may be a scalar or a one-element tensor of any rank.
  EXPECT_EQ(torch::float32_values(at::full({1, 1}, 2.0f), "fq", "scale", 1),
            (std::vector<float>{2.0f}));
  EXPECT_THROW(torch::float32_values(at::ones({3}), "fq", "scales", 2), Error);
  EXPECT_THROW(torch::float32_values(at::ones({2, 1}), "fq", "scales", 2), Error);
  EXPECT_THROW(torch::float32_values(at::ones({2}, at::kDouble), "fq", "scales", 2), Error);
  EXPECT_THROW(torch::integer_values(at::ones({2}), "fq", "zero_points", 2), Error);
}

}  // namespace
}  // namespace quantkit
