// Channel concat with per-input requantization (quantkit/kernels/concat.h): copies where the
// quantization matches, requantized slices where it differs, bit-exact with concat_reference
// at every ISA level and work split, within one step of dequantize → quantize, gaps between
// pixels untouched.
#include "quantkit/kernels/concat.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "int8_kernel_testing.h"
#include "quantkit/core/error.h"

namespace quantkit::kernels {
namespace {

using testing::isa_levels;
using testing::ScopedIsa;

void check_concat(const ConcatParams& p, std::int64_t pixels, unsigned seed) {
  std::mt19937 rng(seed);
  ConcatRequant op(p);
  std::vector<std::vector<std::uint8_t>> data;
  std::vector<const void*> ptrs;
  for (const ConcatInput& in : p.inputs) {
    const std::int64_t stride = in.pixel_stride ? in.pixel_stride : in.channels;
    data.push_back(testing::random_bytes(rng, static_cast<std::size_t>(pixels * stride)));
  }
  for (const auto& d : data) ptrs.push_back(d.data());
  const std::int64_t out_stride = p.out_pixel_stride ? p.out_pixel_stride : op.out_channels();
  std::vector<std::uint8_t> expected(static_cast<std::size_t>(pixels * out_stride), 0x77);
  op.run_reference(ptrs, expected.data(), 0, pixels);
  // Against dequantize → quantize, and copies exact.
  for (std::int64_t px = 0; px < pixels; ++px) {
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < p.inputs.size(); ++i) {
      const ConcatInput& in = p.inputs[i];
      const std::int64_t stride = in.pixel_stride ? in.pixel_stride : in.channels;
      for (std::int64_t c = 0; c < in.channels; ++c) {
        const std::int32_t x = testing::value_of(data[i][px * stride + c], p.dtype);
        const std::int32_t y = testing::value_of(expected[px * out_stride + offset + c], p.dtype);
        const std::int32_t q =
            testing::quantize_double((x - in.zero_point) * in.scale, p.out_scale, p.out_zero_point,
                                     testing::qmin_of(p.dtype), testing::qmax_of(p.dtype));
        if (op.is_copy(i)) {
          ASSERT_EQ(y, x);
        } else {
          ASSERT_LE(std::abs(y - q), 1) << "input " << i << " pixel " << px << " c " << c;
        }
      }
      offset += in.channels;
    }
  }
  for (IsaLevel level : isa_levels()) {
    ScopedIsa s(level);
    testing::note_kernel(std::string("concat ") + std::string(isa_name(level)), lut_kernel_name());
    std::vector<std::uint8_t> got(expected.size(), 0x77);
    const auto cuts = testing::split_points(pixels);
    for (std::size_t i = 0; i + 1 < cuts.size(); ++i)
      op.run(ptrs, got.data(), cuts[i], cuts[i + 1]);
    ASSERT_EQ(got, expected) << isa_name(level);
  }
}

TEST(Concat, MixedCopiesAndRequantizedInputs) {
  for (DType t : {DType::Int8, DType::UInt8}) {
    const std::int32_t lo = testing::qmin_of(t), hi = testing::qmax_of(t);
    for (std::int64_t c = 1; c <= 70; c += 3) {
      ConcatParams p;
      p.dtype = t;
      p.out_scale = 0.05;
      p.out_zero_point = lo + 3;
      p.inputs = {{c, 0.05, lo + 3, 0},   // copy
                  {c + 5, 0.11, hi, 0},   // requantized, zp at the top
                  {2 * c, 0.021, lo, 0},  // requantized, zp at the bottom
                  {3, 0.05, lo + 4, 0}};  // same scale, other zp: requantized
      check_concat(p, 11, static_cast<unsigned>(c));
    }
  }
}

TEST(Concat, StridedInputsOutputAndSingleDenseInput) {
  ConcatParams p;
  p.out_scale = 0.1;
  p.out_zero_point = 0;
  p.out_pixel_stride = 50;
  p.inputs = {{16, 0.1, 0, 20}, {20, 0.3, -10, 0}};
  check_concat(p, 9, 5);
  ConcatParams one;
  one.out_scale = 0.2;
  one.inputs = {{67, 0.1, 1, 0}};  // dense: one lookup over all pixels
  check_concat(one, 13, 6);
}

TEST(Concat, HandComputed) {
  // scale 0.5 → 1.0: (x − 0)·0.5, ties to even: 1 → 0, 3 → 2, 5 → 2; copy input unchanged.
  ConcatParams p;
  p.out_scale = 1.0;
  p.inputs = {{3, 0.5, 0, 0}, {1, 1.0, 0, 0}};
  ConcatRequant op(p);
  const std::vector<std::int8_t> a{1, 3, 5}, b{-7};
  const std::vector<const void*> ptrs{a.data(), b.data()};
  std::vector<std::int8_t> y(4);
  for (IsaLevel level : isa_levels()) {
    ScopedIsa s(level);
    op.run(ptrs, y.data(), 0, 1);
    EXPECT_EQ(y, (std::vector<std::int8_t>{0, 2, 2, -7}));
  }
}

TEST(Concat, RejectsBadArguments) {
  ConcatParams p;
  EXPECT_THROW(ConcatRequant{p}, Error);  // no inputs
  p.inputs = {{0, 1.0, 0, 0}};
  EXPECT_THROW(ConcatRequant{p}, Error);
  p.inputs = {{4, 1.0, 0, 2}};
  EXPECT_THROW(ConcatRequant{p}, Error);  // stride below channels
  p.inputs = {{4, 1.0, 300, 0}};
  EXPECT_THROW(ConcatRequant{p}, Error);
}

}  // namespace
}  // namespace quantkit::kernels
