// The shared element conversions: to_doubles / to_int64s (qparams tensors read into
// vectors) and saturating_trunc_i32 (every float → int32 conversion of the integer paths).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "quantkit/core/dtype.h"
#include "quantkit/core/error.h"
#include "quantkit/core/tensor.h"

namespace quantkit {
namespace {

TEST(Conversions, ToDoublesReadsEveryDtype) {
  EXPECT_EQ(to_doubles(Tensor::from_vector(std::vector<float>{0.1f, -2.5f})),
            (std::vector<double>{static_cast<double>(0.1f), -2.5}));
  EXPECT_EQ(to_doubles(Tensor::from_vector(std::vector<double>{0.1, 1e300})),
            (std::vector<double>{0.1, 1e300}));
  EXPECT_EQ(to_doubles(Tensor::from_vector(std::vector<std::int8_t>{-128, 127})),
            (std::vector<double>{-128, 127}));
  EXPECT_EQ(to_doubles(Tensor::from_vector(std::vector<std::uint8_t>{0, 255})),
            (std::vector<double>{0, 255}));
  EXPECT_EQ(to_doubles(Tensor::from_vector(std::vector<std::int64_t>{-(std::int64_t{1} << 40)})),
            (std::vector<double>{-1099511627776.0}));
}

TEST(Conversions, ToInt64sReadsIntegersAndRefusesFloats) {
  EXPECT_EQ(to_int64s(Tensor::from_vector(std::vector<std::int32_t>{-7, 2147483647})),
            (std::vector<std::int64_t>{-7, 2147483647}));
  EXPECT_EQ(to_int64s(Tensor::from_vector(std::vector<std::uint8_t>{200})),
            (std::vector<std::int64_t>{200}));
  EXPECT_EQ(to_int64s(Tensor::from_vector(std::vector<std::int64_t>{INT64_MIN})),
            (std::vector<std::int64_t>{INT64_MIN}));
  EXPECT_THROW(to_int64s(Tensor::from_vector(std::vector<float>{1.5f})), Error);
}

TEST(Conversions, SaturatingTruncI32) {
  EXPECT_EQ(saturating_trunc_i32(2.9), 2);
  EXPECT_EQ(saturating_trunc_i32(-2.9), -2);
  EXPECT_EQ(saturating_trunc_i32(2147483647.9), 2147483647);  // in range, truncated
  EXPECT_EQ(saturating_trunc_i32(2147483648.0), 2147483647);
  EXPECT_EQ(saturating_trunc_i32(-2147483648.9), -2147483647 - 1);  // truncates to INT32_MIN
  EXPECT_EQ(saturating_trunc_i32(-2147483649.0), -2147483647 - 1);
  EXPECT_EQ(saturating_trunc_i32(1e300), 2147483647);
  EXPECT_EQ(saturating_trunc_i32(-std::numeric_limits<double>::infinity()), -2147483647 - 1);
  EXPECT_EQ(saturating_trunc_i32(std::numeric_limits<double>::quiet_NaN()), 0);
  // float32 arguments convert exactly: 2^31 as a float saturates, -2^31 is representable.
  EXPECT_EQ(saturating_trunc_i32(2147483648.0f), 2147483647);
  EXPECT_EQ(saturating_trunc_i32(-2147483648.0f), -2147483647 - 1);
}

}  // namespace
}  // namespace quantkit
