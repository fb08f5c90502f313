// Quantized add / add+relu / mul (quantkit/kernels/eltwise.h): every ISA level is bit-exact
// with the reference for lengths 1 .. 3× the widest vector and more, vector-by-vector and
// vector-by-scalar, int8 and uint8, zero points at the extremes; the broadcasting operator
// handles [N,1,1,C] × [N,H,W,C], scalars and per-dimension broadcasts at any work split; the
// reference is within one output step of dequantize → float op → quantize.
#include "quantkit/kernels/eltwise.h"

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
using Shape4 = BinaryElementwise::Shape4;

struct Quant {
  double a_scale, b_scale, out_scale;
  std::int32_t a_zp, b_zp, out_zp;
};

std::int64_t numel(const Shape4& s) { return s[0] * s[1] * s[2] * s[3]; }

class BinaryTester {
 public:
  BinaryTester& op(BinaryOp o) {
    op_ = o;
    return *this;
  }
  BinaryTester& dtype(DType t) {
    dtype_ = t;
    return *this;
  }
  BinaryTester& quant(const Quant& q) {
    q_ = q;
    return *this;
  }
  BinaryTester& relu(bool r) {
    relu_ = r;
    return *this;
  }
  BinaryTester& shapes(const Shape4& a, const Shape4& b) {
    a_ = a;
    b_ = b;
    return *this;
  }
  BinaryTester& seed(unsigned s) {
    seed_ = s;
    return *this;
  }

  void test() const {
    std::mt19937 rng(seed_);
    const BinaryParams p = make_binary_params(op_, dtype_, q_.a_scale, q_.a_zp, q_.b_scale, q_.b_zp,
                                              q_.out_scale, q_.out_zp, relu_);
    BinaryElementwise e(p);
    const Shape4 out = e.setup(a_, b_);
    const auto a = testing::random_bytes(rng, static_cast<std::size_t>(numel(a_)));
    const auto b = testing::random_bytes(rng, static_cast<std::size_t>(numel(b_)));
    const std::int64_t pixels = e.output_pixels();
    std::vector<std::uint8_t> expected(static_cast<std::size_t>(numel(out)));
    e.run_reference(a.data(), b.data(), expected.data(), 0, pixels);
    check_against_float(p, out, a, b, expected);
    for (IsaLevel level : isa_levels()) {
      ScopedIsa scoped(level);
      testing::note_kernel(std::string("binary ") + std::string(isa_name(level)),
                           binary_kernel_name());
      std::vector<std::uint8_t> got(expected.size(), 0x5A);
      const auto cuts = testing::split_points(pixels);
      for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
        e.run(a.data(), b.data(), got.data(), cuts[i], cuts[i + 1]);
      }
      ASSERT_EQ(got, expected) << isa_name(level) << " " << describe();
    }
  }

 private:
  std::string describe() const {
    std::string s = op_ == BinaryOp::Add ? "add" : "mul";
    for (auto d : a_) s += " " + std::to_string(d);
    s += " x";
    for (auto d : b_) s += " " + std::to_string(d);
    return s;
  }

  // Independent of the driver: broadcast indices computed from the shapes, float math.
  void check_against_float(const BinaryParams& p, const Shape4& out,
                           const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b,
                           const std::vector<std::uint8_t>& ref) const {
    const auto index = [](const Shape4& s, std::int64_t n, std::int64_t h, std::int64_t w,
                          std::int64_t c) {
      return (((s[0] == 1 ? 0 : n) * s[1] + (s[1] == 1 ? 0 : h)) * s[2] + (s[2] == 1 ? 0 : w)) *
                 s[3] +
             (s[3] == 1 ? 0 : c);
    };
    std::int64_t i = 0;
    for (std::int64_t n = 0; n < out[0]; ++n)
      for (std::int64_t h = 0; h < out[1]; ++h)
        for (std::int64_t w = 0; w < out[2]; ++w)
          for (std::int64_t c = 0; c < out[3]; ++c, ++i) {
            const double x =
                (testing::value_of(a[index(a_, n, h, w, c)], dtype_) - q_.a_zp) * q_.a_scale;
            const double z =
                (testing::value_of(b[index(b_, n, h, w, c)], dtype_) - q_.b_zp) * q_.b_scale;
            const double y = op_ == BinaryOp::Add ? x + z : x * z;
            const std::int32_t q =
                testing::quantize_double(y, q_.out_scale, q_.out_zp, p.qmin, p.qmax);
            ASSERT_LE(std::abs(q - testing::value_of(ref[i], dtype_)), 1)
                << describe() << " at " << i << " y=" << y;
          }
  }

  BinaryOp op_ = BinaryOp::Add;
  DType dtype_ = DType::Int8;
  Quant q_{0.05, 0.03, 0.06, 3, -7, 1};
  bool relu_ = false;
  Shape4 a_{1, 1, 1, 1}, b_{1, 1, 1, 1};
  unsigned seed_ = 1;
};

TEST(Binary, LengthSweepVectorAndScalar) {
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Mul}) {
    for (DType t : {DType::Int8, DType::UInt8}) {
      const Quant q = t == DType::Int8 ? Quant{0.05, 0.03, 0.06, -128, 127, 5}
                                       : Quant{0.05, 0.03, 0.06, 255, 0, 128};
      const Quant qm = t == DType::Int8 ? Quant{0.05, 0.03, 0.5, 2, -3, -1}
                                        : Quant{0.05, 0.03, 0.5, 130, 120, 128};
      for (std::int64_t c = 1; c <= 100; c += (c < 50 ? 1 : 9)) {
        BinaryTester()
            .op(op)
            .dtype(t)
            .quant(op == BinaryOp::Add ? q : qm)
            .shapes({1, 1, 1, c}, {1, 1, 1, c})
            .seed(static_cast<unsigned>(c))
            .test();
        BinaryTester()
            .op(op)
            .dtype(t)
            .quant(op == BinaryOp::Add ? q : qm)
            .shapes({1, 1, 1, c}, {1, 1, 1, 1})
            .seed(static_cast<unsigned>(c + 1))
            .test();
        BinaryTester()
            .op(op)
            .dtype(t)
            .quant(op == BinaryOp::Add ? q : qm)
            .shapes({1, 1, 1, 1}, {1, 1, 1, c})
            .seed(static_cast<unsigned>(c + 2))
            .test();
      }
    }
  }
}

TEST(Binary, BroadcastShapes) {
  const std::vector<std::pair<Shape4, Shape4>> cases = {
      {{2, 5, 4, 24}, {2, 1, 1, 24}},  // squeeze-excitation
      {{1, 1, 1, 40}, {1, 3, 7, 40}},
      {{2, 3, 3, 17}, {1, 1, 1, 1}},  // scalar
      {{1, 1, 1, 1}, {2, 3, 3, 17}},
      {{2, 3, 4, 1}, {2, 3, 4, 33}},   // per-pixel value over channels
      {{1, 4, 1, 9}, {3, 1, 5, 9}},    // both broadcast
      {{2, 6, 5, 70}, {2, 6, 5, 70}},  // equal shapes: one contiguous run
  };
  unsigned seed = 10;
  for (BinaryOp op : {BinaryOp::Add, BinaryOp::Mul}) {
    for (const auto& [a, b] : cases) {
      BinaryTester()
          .op(op)
          .quant({0.04, 0.02, op == BinaryOp::Add ? 0.05 : 0.3, 1, 2, -3})
          .shapes(a, b)
          .seed(++seed)
          .test();
    }
  }
}

TEST(Binary, AddReluClampsAtTheOutputZeroPoint) {
  BinaryTester().relu(true).shapes({1, 4, 4, 37}, {1, 4, 4, 37}).test();
  BinaryTester()
      .relu(true)
      .dtype(DType::UInt8)
      .quant({0.05, 0.05, 0.05, 128, 100, 120})
      .shapes({1, 2, 2, 50}, {1, 1, 1, 50})
      .test();
  const BinaryParams p = make_binary_params(BinaryOp::Add, DType::Int8, 1, 0, 1, 0, 1, 7, true);
  std::vector<std::int8_t> a{-50, 1}, b{-50, 2}, y(2);
  for (IsaLevel level : isa_levels()) {
    ScopedIsa s(level);
    binary(p, a.data(), b.data(), y.data(), 2, false);
    EXPECT_EQ(y[0], 7);      // −100 + 7 clamped at zp
    EXPECT_EQ(y[1], 3 + 7);  // 1 + 2 + 7
  }
}

TEST(Binary, HandComputedRounding) {
  // mul: (3 − 1)·(5 − 0)·0.25 = 2.5 → 2 (half to even); add: 0.5·1 + 0.5·2 = 1.5 → 2.
  const BinaryParams mul = make_binary_params(BinaryOp::Mul, DType::Int8, 0.5, 1, 0.5, 0, 1, 0);
  const BinaryParams add = make_binary_params(BinaryOp::Add, DType::Int8, 0.5, 0, 0.5, 0, 1, 0);
  std::vector<std::int8_t> a(20, 3), b(20, 5), y(20);
  std::vector<std::int8_t> a2(20, 1), b2(20, 2);
  for (IsaLevel level : isa_levels()) {
    ScopedIsa s(level);
    binary(mul, a.data(), b.data(), y.data(), 20, false);
    EXPECT_EQ(y[0], 2);
    EXPECT_EQ(y[19], 2);
    binary(add, a2.data(), b2.data(), y.data(), 20, true);
    EXPECT_EQ(y[17], 2);
  }
}

TEST(Binary, RejectsBadArguments) {
  EXPECT_THROW(make_binary_params(BinaryOp::Add, DType::Int8, 1, 200, 1, 0, 1, 0), Error);
  EXPECT_THROW(make_binary_params(BinaryOp::Add, DType::Int16, 1, 0, 1, 0, 1, 0), Error);
  EXPECT_THROW(make_binary_params(BinaryOp::Mul, DType::UInt8, 1, 0, 1, 0, 0, 0), Error);
  BinaryElementwise e(make_binary_params(BinaryOp::Add, DType::Int8, 1, 0, 1, 0, 1, 0));
  EXPECT_THROW(e.setup({1, 2, 2, 3}, {1, 2, 2, 4}), Error);
}

}  // namespace
}  // namespace quantkit::kernels
