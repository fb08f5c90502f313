// 256-entry lookup tables (quantkit/kernels/lut.h): the tables match an independent
// dequantize → f → quantize for hardswish, sigmoid, hardsigmoid, tanh, SiLU, int8 and uint8,
// zero points at the extremes; lut_apply is bit-exact with the scalar lookup at every ISA
// level for lengths 1 .. 3× 64 and beyond, in place too.
#include "quantkit/kernels/lut.h"

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

TEST(Lut, TablesMatchFloatWithinOneStep) {
  for (UnaryFunction f : {UnaryFunction::Hardswish, UnaryFunction::Hardsigmoid,
                          UnaryFunction::Sigmoid, UnaryFunction::Tanh, UnaryFunction::SiLU}) {
    for (DType t : {DType::Int8, DType::UInt8}) {
      for (std::int32_t zp :
           {testing::qmin_of(t), testing::qmax_of(t), t == DType::Int8 ? 0 : 128}) {
        LutQuantization q;
        q.in_dtype = q.out_dtype = t;
        q.in_scale = 0.047;
        q.in_zero_point = zp;
        q.out_scale =
            f == UnaryFunction::Sigmoid || f == UnaryFunction::Hardsigmoid ? 1.0 / 256 : 0.03;
        q.out_zero_point = t == DType::Int8 ? -128 : 0;
        if (f == UnaryFunction::Tanh) q.out_zero_point = t == DType::Int8 ? 0 : 128;
        if (f == UnaryFunction::Hardswish || f == UnaryFunction::SiLU) {
          q.out_zero_point = t == DType::Int8 ? -20 : 20;
        }
        q.qmin = testing::qmin_of(t);
        q.qmax = testing::qmax_of(t);
        const Lut256 table = make_lut(q, f);
        for (int byte = 0; byte < 256; ++byte) {
          const std::int32_t v = testing::value_of(static_cast<std::uint8_t>(byte), t);
          const double x = (v - q.in_zero_point) * q.in_scale;
          const double y = apply_unary(f, x);
          const std::int32_t expect =
              testing::quantize_double(y, q.out_scale, q.out_zero_point, q.qmin, q.qmax);
          EXPECT_LE(std::abs(expect - testing::value_of(table[byte], t)), 1)
              << "f=" << static_cast<int>(f) << " byte " << byte;
        }
      }
    }
  }
}

TEST(Lut, KnownValues) {
  // hardswish on int8 with scale 1/16: x = 3 (q = 48) → 3; x = −3 → 0; x = 1 → 1·4/6 = 0.6667
  LutQuantization q;
  q.in_scale = q.out_scale = 1.0 / 16;
  const Lut256 t = make_lut(q, UnaryFunction::Hardswish);
  EXPECT_EQ(static_cast<std::int8_t>(t[48]), 48);
  EXPECT_EQ(static_cast<std::int8_t>(t[static_cast<std::uint8_t>(-48)]), 0);
  EXPECT_EQ(static_cast<std::int8_t>(t[16]), 11);  // 0.6667·16 = 10.67 → 11
  // Ties go to even: identity with out_scale = 2·in_scale maps 1 → 0.5 → 0, 3 → 1.5 → 2.
  LutQuantization half;
  half.out_scale = 2.0;
  const Lut256 h = make_lut(half, UnaryFunction::Identity);
  EXPECT_EQ(h[1], 0);
  EXPECT_EQ(h[3], 2);
  EXPECT_EQ(h[5], 2);
}

TEST(Lut, ApplyIsBitExactAtEveryLevel) {
  std::mt19937 rng(3);
  Lut256 table{};
  for (auto& v : table) v = static_cast<std::uint8_t>(rng());
  for (std::int64_t n = 1; n <= 300; n += (n < 200 ? 1 : 17)) {
    const auto x = testing::random_bytes(rng, static_cast<std::size_t>(n));
    std::vector<std::uint8_t> expected(x.size());
    lut_apply_reference(table, x.data(), expected.data(), n);
    for (std::int64_t i = 0; i < n; ++i) ASSERT_EQ(expected[i], table[x[i]]);
    for (IsaLevel level : isa_levels()) {
      ScopedIsa s(level);
      testing::note_kernel(std::string("lut ") + std::string(isa_name(level)), lut_kernel_name());
      std::vector<std::uint8_t> got(x.size() + 1, 0xEE);  // one guard byte
      lut_apply(table, x.data(), got.data(), n);
      ASSERT_EQ(got.back(), 0xEE) << "wrote past the end, n=" << n;
      got.pop_back();
      ASSERT_EQ(got, expected) << isa_name(level) << " n=" << n;
      std::vector<std::uint8_t> in_place = x;
      lut_apply(table, in_place.data(), in_place.data(), n);
      ASSERT_EQ(in_place, expected) << "in place, " << isa_name(level);
    }
  }
}

TEST(Lut, KernelNameFollowsTheActiveLevel) {
  {
    ScopedIsa s(IsaLevel::Portable);
    EXPECT_STREQ(lut_kernel_name(), "reference");
  }
  if (detected_isa() >= IsaLevel::Avx2) {
    ScopedIsa s(IsaLevel::Avx2);
    EXPECT_STREQ(lut_kernel_name(), "avx2");
  }
  if (detected_isa() >= IsaLevel::Avx512) {
    ScopedIsa s(IsaLevel::Avx512);
    EXPECT_STREQ(lut_kernel_name(), cpu_has_avx512_vbmi() ? "avx512_vbmi" : "avx2");
  }
}

TEST(Lut, RejectsBadQuantization) {
  LutQuantization q;
  q.in_scale = 0;
  EXPECT_THROW(make_lut(q, UnaryFunction::Sigmoid), Error);
  q = LutQuantization{};
  q.out_dtype = DType::UInt8;
  q.out_zero_point = -1;
  q.qmin = 0;
  q.qmax = 255;
  EXPECT_THROW(make_lut(q, UnaryFunction::Sigmoid), Error);
}

}  // namespace
}  // namespace quantkit::kernels
