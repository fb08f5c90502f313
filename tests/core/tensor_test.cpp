#include "quantkit/core/tensor.h"

#include <cstdint>
#include <gtest/gtest.h>

namespace quantkit {
namespace {

TEST(Tensor, DefaultIsEmptyFloat32) {
  Tensor t;
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_EQ(t.shape(), Shape{0});
  EXPECT_EQ(t.numel(), 0);
}

TEST(Tensor, EmptyIsAlignedAndSized) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int8, DType::UInt8, DType::Int16,
                  DType::Int32, DType::Int64}) {
    Tensor t = Tensor::empty({3, 5}, d);
    EXPECT_EQ(t.numel(), 15);
    EXPECT_EQ(t.nbytes(), 15 * dtype_size(d));
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.raw_data()) % kTensorAlignment, 0u);
    EXPECT_TRUE(t.owns_storage());
  }
}

TEST(Tensor, ZerosAreZero) {
  Tensor t = Tensor::zeros({4, 4}, DType::Int32);
  for (auto v : t.span<std::int32_t>()) EXPECT_EQ(v, 0);
}

TEST(Tensor, CopiesShareStorageCloneDoesNot) {
  Tensor a = Tensor::from_vector<float>({1, 2, 3});
  Tensor b = a;
  b.data<float>()[0] = 7;
  EXPECT_EQ(a.data<float>()[0], 7);
  Tensor c = a.clone();
  c.data<float>()[0] = 9;
  EXPECT_EQ(a.data<float>()[0], 7);
}

TEST(Tensor, FromBlobIsAViewOverCallerMemory) {
  std::vector<std::int16_t> buffer{1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from_blob(buffer.data(), {2, 3}, DType::Int16);
  EXPECT_FALSE(t.owns_storage());
  t.data<std::int16_t>()[5] = 60;
  EXPECT_EQ(buffer[5], 60);
  EXPECT_THROW(Tensor::from_blob(nullptr, {2}, DType::Int8), Error);
  EXPECT_NO_THROW(Tensor::from_blob(nullptr, {0}, DType::Int8));
}

TEST(Tensor, WrongTypedAccessThrows) {
  Tensor t = Tensor::zeros({2}, DType::Int8);
  EXPECT_THROW(t.data<float>(), Error);
  EXPECT_THROW(t.data<std::uint8_t>(), Error);
}

TEST(Tensor, ReshapeKeepsStorageAndInfers) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6});
  Tensor r = t.reshape({2, -1});
  EXPECT_EQ(r.shape(), (Shape{2, 3}));
  EXPECT_EQ(r.raw_data(), t.raw_data());
  EXPECT_THROW(t.reshape({4, -1}), Error);
  EXPECT_THROW(t.reshape({-1, -1}), Error);
  EXPECT_THROW(t.reshape({7}), Error);
}

TEST(Tensor, SizeAcceptsNegativeDims) {
  Tensor t = Tensor::zeros({2, 3, 4}, DType::Float32);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.size(0), 2);
  EXPECT_THROW(t.size(3), Error);
  EXPECT_THROW(t.size(-4), Error);
}

TEST(Tensor, ShapeValidation) {
  EXPECT_THROW(Tensor::empty({-1, 2}, DType::Float32), Error);
  EXPECT_THROW(Tensor::empty({1LL << 40, 1LL << 40}, DType::Float32), Error);
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_to_string({2, 3}), "[2, 3]");
}

TEST(Tensor, ConversionRefusesOutOfRangeFloats) {
  Tensor f = Tensor::from_vector<float>({1.5f, -2.5f});
  EXPECT_EQ(f.to(DType::Int8).to_vector<std::int8_t>(), (std::vector<std::int8_t>{1, -2}));
  EXPECT_THROW(Tensor::from_vector<float>({300.0f}).to(DType::Int8), Error);
  EXPECT_THROW(Tensor::from_vector<float>({-1.0f}).to(DType::UInt8), Error);
  EXPECT_THROW(Tensor::from_vector<float>({std::numeric_limits<float>::quiet_NaN()}).to(DType::Int32),
               Error);
  EXPECT_EQ(Tensor::from_vector<std::int32_t>({-3}).to(DType::Float64).to_vector<double>()[0], -3.0);
}

TEST(Tensor, ScalarIsZeroDim) {
  Tensor s = Tensor::scalar(2.5f);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.data<float>()[0], 2.5f);
}

TEST(DTypeNames, RoundTrip) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int8, DType::UInt8, DType::Int16,
                  DType::Int32, DType::Int64}) {
    EXPECT_EQ(dtype_from_name(dtype_name(d)), d);
  }
  EXPECT_THROW(dtype_from_name("int4"), Error);
  EXPECT_EQ(dtype_min(DType::Int8), -128);
  EXPECT_EQ(dtype_max(DType::UInt8), 255);
  EXPECT_THROW(dtype_min(DType::Float32), Error);
}

TEST(ErrorMessages, NameArgumentValueAndExpectation) {
  try {
    check_argument(false, "f", "scale", -1.0, "a finite value > 0");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "f: invalid argument 'scale': got -1, expected a finite value > 0");
  }
}

}  // namespace
}  // namespace quantkit
