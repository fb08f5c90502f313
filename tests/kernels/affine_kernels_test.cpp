// Optimized affine kernels (AVX2, AVX-512) against the portable reference, bit for bit:
// every size 0..130 (all tail lengths of both vector widths), unaligned pointers, random data
// mixed with exact ties, huge values, denormals, signed zeros, NaN and +-inf; every dtype.
// Each kernel also must write exactly n outputs and leave its inputs untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "quantkit/kernels/affine_kernels.h"
#include "quantkit/kernels/cpu_features.h"
#include "support/isa_report.h"

namespace quantkit::kernels {
namespace {


// Which ISA levels this binary covered (see support/isa_report.h).
QUANTKIT_ISA_COVERAGE_TESTS(AffineKernelsIsaCoverage)
constexpr std::size_t kMaxSize = 130;
constexpr std::size_t kGuard = 80;  // sentinel elements after the output
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<IsaLevel> optimized_levels() {
  std::vector<IsaLevel> levels;
  for (IsaLevel l : {IsaLevel::Avx2, IsaLevel::Avx512}) {
    if (static_cast<int>(l) <= static_cast<int>(detected_isa())) levels.push_back(l);
  }
  return levels;
}

// Restores dispatch to normal however a test exits.
struct IsaGuard {
  ~IsaGuard() { clear_isa_override(); }
};

// float32 inputs for a scale s: uniform values around the quantized range, exact ties
// (k + 0.5) * s, near ties, huge and tiny magnitudes, signed zeros, denormals, NaN, +-inf.
std::vector<float> make_floats(std::size_t n, float scale, double span, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uniform(-span, span);
  std::uniform_int_distribution<int> kind(0, 15);
  std::uniform_int_distribution<int> k_dist(-300, 300);
  const float specials[] = {0.0f,  -0.0f, kInf, -kInf, std::numeric_limits<float>::quiet_NaN(),
                            1e20f, -1e20f, 3.0e38f, -3.0e38f, 1e-45f, -1e-45f, 1e-40f,
                            2147483648.0f, -2147483648.0f, 16777216.0f, 16777217.0f};
  std::vector<float> x(n);
  for (auto& v : x) {
    const int k = kind(rng);
    if (k < 7) {
      v = static_cast<float>(uniform(rng));
    } else if (k < 10) {
      v = (static_cast<float>(k_dist(rng)) + 0.5f) * scale;  // a tie when scale is a power of 2
    } else if (k < 12) {
      v = std::nextafter((static_cast<float>(k_dist(rng)) + 0.5f) * scale,
                         k == 10 ? kInf : -kInf);
    } else if (k < 13) {
      v = static_cast<float>(uniform(rng) * 1e9);
    } else {
      v = specials[rng() % (sizeof specials / sizeof specials[0])];
    }
  }
  return x;
}

template <class T>
std::vector<T> make_codes(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<std::int64_t> dist(std::numeric_limits<T>::lowest(),
                                                   std::numeric_limits<T>::max());
  std::vector<T> q(n);
  for (auto& v : q) v = static_cast<T>(dist(rng));
  if (n > 0) q[0] = std::numeric_limits<T>::lowest();
  if (n > 1) q[n - 1] = std::numeric_limits<T>::max();
  return q;
}

// Runs `kernel(in..., out, n)` under the reference and under `level` for every size and two
// alignments; compares outputs bytewise, checks the guard and that inputs are unchanged.
// make_inputs(n, seed) returns a tuple-like struct; kernel(inputs, out_ptr, n).
template <class Out, class Inputs, class MakeInputs, class Kernel>
void sweep(const std::string& what, MakeInputs make_inputs, Kernel kernel) {
  IsaGuard guard;
  const auto levels = optimized_levels();
  if (levels.empty()) GTEST_SKIP() << "no AVX2 on this CPU";
  for (std::size_t n = 0; n <= kMaxSize; ++n) {
    for (std::size_t offset : {0, 1}) {
      const Inputs inputs = make_inputs(n + offset, static_cast<std::uint32_t>(n * 7 + offset));
      const Inputs inputs_copy = inputs;
      auto run = [&](IsaLevel level) {
        set_isa_override(level);
        std::vector<Out> out(offset + n + kGuard);
        std::memset(out.data(), 0xA5, out.size() * sizeof(Out));
        kernel(inputs, offset, out.data() + offset, n);
        clear_isa_override();
        return out;
      };
      const std::vector<Out> expected = run(IsaLevel::Portable);
      for (IsaLevel level : levels) {
        const std::vector<Out> got = run(level);
        ASSERT_EQ(std::memcmp(expected.data(), got.data(), expected.size() * sizeof(Out)), 0)
            << what << ": " << isa_name(level) << " differs from the reference, n=" << n
            << " offset=" << offset << " first difference at element "
            << [&] {
                 for (std::size_t i = 0; i < got.size(); ++i) {
                   if (std::memcmp(&got[i], &expected[i], sizeof(Out)) != 0) return i;
                 }
                 return got.size();
               }();
        for (std::size_t i = offset + n; i < got.size(); ++i) {
          std::uint8_t sentinel[sizeof(Out)];
          std::memcpy(sentinel, &got[i], sizeof(Out));
          for (auto b : sentinel) ASSERT_EQ(b, 0xA5) << what << ": wrote past n=" << n;
        }
      }
      ASSERT_TRUE(inputs == inputs_copy) << what << ": a kernel modified its input";
    }
  }
}

// Bitwise equality (NaN inputs must compare equal to themselves).
template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

struct FloatInput {
  std::vector<float> x;
  bool operator==(const FloatInput& o) const { return same_bits(x, o.x); }
};
struct GradInput {
  std::vector<float> x, dy;
  bool operator==(const GradInput& o) const { return same_bits(x, o.x) && same_bits(dy, o.dy); }
};
template <class T>
struct CodeInput {
  std::vector<T> q;
  bool operator==(const CodeInput& o) const { return same_bits(q, o.q); }
};

// ---- quantize

struct QuantizeCase {
  float scale;
  float zero_point;
  std::int32_t quant_min, quant_max;
};

template <class T>
std::vector<QuantizeCase> quantize_cases() {
  const auto lo = static_cast<std::int32_t>(std::numeric_limits<T>::lowest());
  const auto hi = static_cast<std::int32_t>(std::numeric_limits<T>::max());
  std::vector<QuantizeCase> cases = {
      {0.1f, 0.0f, lo, hi},
      {0.0078125f, static_cast<float>(lo / 2 + hi / 2), lo, hi},  // power of two: exact ties
      {3.0517578125e-05f, static_cast<float>(hi), lo, hi},
      {1.7f, static_cast<float>(lo), lo, hi},
      {0.25f, static_cast<float>(lo + 3), lo + 3, lo + 12},        // a 4-bit sub-range
  };
  if constexpr (std::is_same_v<T, std::int32_t>) {
    // Bounds and zero points that are not float32 values; |x * inv| far beyond 2^31.
    cases.push_back({1e-6f, 1073741825.0f, -2147483647, 2147483646});
    cases.push_back({0.5f, -16777217.0f, -1000000001, 1000000001});
  }
  return cases;
}

template <class T>
void sweep_quantize() {
  for (const QuantizeCase& c : quantize_cases<T>()) {
    const QuantizeParams p{1.0f / c.scale, c.zero_point, c.quant_min, c.quant_max};
    const double span = 1.3 * (static_cast<double>(c.quant_max) - c.quant_min) * c.scale;
    sweep<T, FloatInput>(
        "quantize scale=" + std::to_string(c.scale),
        [&](std::size_t n, std::uint32_t seed) {
          return FloatInput{make_floats(n, c.scale, span, seed)};
        },
        [&](const FloatInput& in, std::size_t off, T* out, std::size_t n) {
          quantize(in.x.data() + off, out, n, p);
        });
    // Periodic: params cycle with several periods, including ones shorter than a vector.
    for (std::size_t period : {1, 3, 16, 17, 64, 70}) {
      std::vector<float> invs(period), zps(period);
      for (std::size_t i = 0; i < period; ++i) {
        invs[i] = 1.0f / (c.scale * static_cast<float>(1 + i % 5));
        zps[i] = static_cast<float>(c.quant_min + static_cast<std::int64_t>(
                                                      (static_cast<double>(c.quant_max) -
                                                       c.quant_min) * (i % 7) / 6));
      }
      const QuantizePeriodicParams pp{invs.data(), zps.data(), period, c.quant_min, c.quant_max};
      sweep<T, FloatInput>(
          "quantize periodic " + std::to_string(period),
          [&](std::size_t n, std::uint32_t seed) {
            return FloatInput{make_floats(n, c.scale, span, seed)};
          },
          [&](const FloatInput& in, std::size_t off, T* out, std::size_t n) {
            quantize(in.x.data() + off, out, n, pp);
          });
    }
  }
}

TEST(AffineKernels, QuantizeInt8) { sweep_quantize<std::int8_t>(); }
TEST(AffineKernels, QuantizeUInt8) { sweep_quantize<std::uint8_t>(); }
TEST(AffineKernels, QuantizeInt16) { sweep_quantize<std::int16_t>(); }
TEST(AffineKernels, QuantizeInt32) { sweep_quantize<std::int32_t>(); }

// ---- dequantize

template <class T>
void sweep_dequantize() {
  const auto lo = static_cast<std::int32_t>(std::numeric_limits<T>::lowest());
  const auto hi = static_cast<std::int32_t>(std::numeric_limits<T>::max());
  auto codes = [](std::size_t n, std::uint32_t seed) { return CodeInput<T>{make_codes<T>(n, seed)}; };
  for (std::int32_t zp : {0, lo, hi, lo / 3}) {
    for (float scale : {0.1f, 0.0078125f, 1e-30f, 3e30f}) {
      const DequantizeParams p{scale, zp};
      sweep<float, CodeInput<T>>(
          "dequantize per tensor", codes,
          [&](const CodeInput<T>& in, std::size_t off, float* out, std::size_t n) {
            dequantize(in.q.data() + off, out, n, p);
          });
    }
    // Double scales that are and are not float32 values (the two per-channel paths).
    for (double scale : {0.1, 0.10000000149011612, 1.0 / 3.0, 1e-300, 2.5e-8}) {
      const DequantizeChannelParams p{scale, static_cast<float>(zp)};
      sweep<float, CodeInput<T>>(
          "dequantize channel", codes,
          [&](const CodeInput<T>& in, std::size_t off, float* out, std::size_t n) {
            dequantize(in.q.data() + off, out, n, p);
          });
    }
  }
  for (bool float_scales : {true, false}) {
    for (std::size_t period : {1, 2, 16, 33, 64}) {
      std::vector<double> scales(period);
      std::vector<float> zps(period);
      for (std::size_t i = 0; i < period; ++i) {
        const double s = 0.01 * static_cast<double>(i + 1) / 3.0;
        scales[i] = float_scales ? static_cast<double>(static_cast<float>(s)) : s;
        zps[i] = static_cast<float>(i % 2 ? lo : hi / static_cast<std::int32_t>(i + 1));
      }
      const DequantizeChannelPeriodicParams p{scales.data(), zps.data(), period};
      sweep<float, CodeInput<T>>(
          "dequantize periodic " + std::to_string(period), codes,
          [&](const CodeInput<T>& in, std::size_t off, float* out, std::size_t n) {
            dequantize(in.q.data() + off, out, n, p);
          });
    }
  }
}

TEST(AffineKernels, DequantizeInt8) { sweep_dequantize<std::int8_t>(); }
TEST(AffineKernels, DequantizeUInt8) { sweep_dequantize<std::uint8_t>(); }
TEST(AffineKernels, DequantizeInt16) { sweep_dequantize<std::int16_t>(); }
TEST(AffineKernels, DequantizeInt32) { sweep_dequantize<std::int32_t>(); }

// ---- fake quantize

std::vector<FakeQuantizeParams> fake_cases() {
  using P = FakeQuantizeParams;
  return {
      P::with_integer_zero_point(0.1f, 0, 0, 255),
      P::with_integer_zero_point(0.0078125f, -3, -128, 127),
      P::with_integer_zero_point(0.03f, 5, 0, 15),
      P::with_integer_zero_point(1e-3f, 0, -32768, 32767),
      // int32 ranges: bounds and zero point that are not float32 values (double path).
      P::with_integer_zero_point(1e-6f, 123456789, std::numeric_limits<std::int32_t>::min(),
                                 std::numeric_limits<std::int32_t>::max()),
      P::with_integer_zero_point(0.5f, 16777217, 16777215, 16777219),
      // Float zero points (fused rounding).
      P::with_float_zero_point(0.1f, 12.3f, 0, 255),
      P::with_float_zero_point(0.0078125f, -0.5f, -128, 127),
      P::with_float_zero_point(1e-6f, 1e-30f, std::numeric_limits<std::int32_t>::min(),
                               std::numeric_limits<std::int32_t>::max()),
  };
}

double fake_span(std::int32_t qmin, std::int32_t qmax, float scale) {
  return 1.3 * (static_cast<double>(qmax) - qmin) * scale;
}

TEST(AffineKernels, FakeQuantizeForwardBackwardMask) {
  for (const FakeQuantizeParams& p : fake_cases()) {
    const double span = fake_span(p.quant_min, p.quant_max, p.scale);
    const std::string label = "fake quantize scale=" + std::to_string(p.scale) +
                              " zp=" + std::to_string(p.zero_point_sub) +
                              (p.float_zero_point ? " (float zp)" : "");
    auto floats = [&](std::size_t n, std::uint32_t seed) {
      return FloatInput{make_floats(n, p.scale, span, seed)};
    };
    auto grads = [&](std::size_t n, std::uint32_t seed) {
      return GradInput{make_floats(n, p.scale, span, seed), make_floats(n, 1.0f, 2.0, seed + 1)};
    };
    sweep<float, FloatInput>(label + " forward", floats,
                             [&](const FloatInput& in, std::size_t off, float* out, std::size_t n) {
                               fake_quantize(in.x.data() + off, out, n, p);
                             });
    sweep<float, GradInput>(label + " backward", grads,
                            [&](const GradInput& in, std::size_t off, float* out, std::size_t n) {
                              fake_quantize_backward(in.dy.data() + off, in.x.data() + off, out,
                                                     n, p);
                            });
    sweep<std::uint8_t, FloatInput>(
        label + " mask", floats,
        [&](const FloatInput& in, std::size_t off, std::uint8_t* out, std::size_t n) {
          fake_quantize_mask(in.x.data() + off, out, n, p);
        });
  }
}

TEST(AffineKernels, FakeQuantizePeriodic) {
  struct Range {
    std::int32_t qmin, qmax;
  };
  for (const Range r : {Range{0, 255}, Range{-128, 127}, Range{-8, 7}, Range{-16777216, 0}}) {
    ASSERT_TRUE(fake_quantize_periodic_supported(r.qmin, r.qmax));
    for (bool float_zp : {false, true}) {
      for (std::size_t period : {1, 5, 16, 31, 64, 100}) {
        std::vector<float> scales(period), invs(period), zps(period);
        for (std::size_t i = 0; i < period; ++i) {
          scales[i] = i % 3 == 0 ? 0.0078125f : 0.02f * static_cast<float>(i + 1);
          invs[i] = 1.0f / scales[i];
          const double mid = r.qmin + (static_cast<double>(r.qmax) - r.qmin) * (i % 4) / 3.0;
          zps[i] = float_zp ? static_cast<float>(mid) + 0.37f
                            : static_cast<float>(static_cast<std::int32_t>(mid));
        }
        const FakeQuantizePeriodicParams p{scales.data(), invs.data(), zps.data(), period,
                                           r.qmin, r.qmax, float_zp};
        const double span = fake_span(r.qmin, r.qmax, 0.02f * static_cast<float>(period));
        const std::string label = "fake periodic period=" + std::to_string(period) +
                                  (float_zp ? " float zp" : "") + " range " +
                                  std::to_string(r.qmin);
        sweep<float, FloatInput>(
            label + " forward",
            [&](std::size_t n, std::uint32_t seed) {
              return FloatInput{make_floats(n, 0.0078125f, span, seed)};
            },
            [&](const FloatInput& in, std::size_t off, float* out, std::size_t n) {
              fake_quantize(in.x.data() + off, out, n, p);
            });
        sweep<float, GradInput>(
            label + " backward",
            [&](std::size_t n, std::uint32_t seed) {
              return GradInput{make_floats(n, 0.0078125f, span, seed),
                               make_floats(n, 1.0f, 2.0, seed + 1)};
            },
            [&](const GradInput& in, std::size_t off, float* out, std::size_t n) {
              fake_quantize_backward(in.dy.data() + off, in.x.data() + off, out, n, p);
            });
      }
    }
  }
}

// ---- the reference itself on hand-checked values (so the sweeps compare against truth)

TEST(AffineKernels, ReferenceSemantics) {
  IsaGuard guard;
  for (IsaLevel level : {IsaLevel::Portable, IsaLevel::Avx2, IsaLevel::Avx512}) {
    set_isa_override(level);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> x = {0.5f, 1.5f, 2.5f, -0.5f, -2.5f, kInf, -kInf, nan, 1e20f, -0.0f};
    std::vector<std::uint8_t> q(x.size());
    quantize(x.data(), q.data(), x.size(), QuantizeParams{1.0f, 10.0f, 0, 255});
    EXPECT_EQ(q, (std::vector<std::uint8_t>{10, 12, 12, 10, 8, 255, 0, 0, 255, 10}))
        << isa_name(level);

    // int32: float32(2^31 - 1) rounds up to 2^31; the clamp must still give 2^31 - 1.
    std::vector<std::int32_t> q32(x.size());
    quantize(x.data(), q32.data(), x.size(),
             QuantizeParams{1e12f, 0.0f, std::numeric_limits<std::int32_t>::min(),
                            std::numeric_limits<std::int32_t>::max()});
    EXPECT_EQ(q32[1], std::numeric_limits<std::int32_t>::max());
    EXPECT_EQ(q32[4], std::numeric_limits<std::int32_t>::min());
    EXPECT_EQ(q32[7], std::numeric_limits<std::int32_t>::min());  // NaN -> quant_min

    // Fake quantize: the mask is on the unclamped q, values landing on a bound keep it.
    const auto p = FakeQuantizeParams::with_integer_zero_point(1.0f, 0, -2, 2);
    const std::vector<float> fx = {2.0f, 2.5f, 2.6f, -2.5f, -2.6f, nan, kInf, -kInf};
    const std::vector<float> dy = {-1.0f, -1.0f, -1.0f, 3.0f, 3.0f, 1.0f, 1.0f, 1.0f};
    std::vector<float> y(fx.size()), dx(fx.size());
    std::vector<std::uint8_t> mask(fx.size());
    fake_quantize(fx.data(), y.data(), fx.size(), p);
    fake_quantize_backward(dy.data(), fx.data(), dx.data(), fx.size(), p);
    fake_quantize_mask(fx.data(), mask.data(), fx.size(), p);
    EXPECT_EQ(y, (std::vector<float>{2.0f, 2.0f, 2.0f, -2.0f, -2.0f, -2.0f, 2.0f, -2.0f}));
    EXPECT_EQ(mask, (std::vector<std::uint8_t>{1, 1, 0, 1, 0, 0, 0, 0}));
    EXPECT_EQ(dx[0], -1.0f);
    EXPECT_TRUE(std::signbit(dx[2]) && dx[2] == 0.0f) << "masked negative dy gives -0.0";
    clear_isa_override();
  }
}

}  // namespace
}  // namespace quantkit::kernels
