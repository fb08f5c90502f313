// `quantkit demo`: the built-in main job. Quantizes a built-in example tensor (a linear
// layer's weight with realistic outliers, and a ReLU activation batch) with every scheme the
// library has, and prints what each one costs: max error, RMSE and SQNR.
#include <cmath>
#include <cstdint>
#include <fmt/format.h>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "cli_support.h"
#include "quantkit/apot/observer.h"
#include "quantkit/apot/quantizer.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/choose_qparams.h"
#include "quantkit/quant/observer.h"

namespace quantkit::cli {
namespace {

// Deterministic example data: 64 output channels x 256 inputs, per-channel magnitudes that
// vary over two orders (as in real conv/linear weights), plus a few large outliers.
Tensor example_weight() {
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor w = Tensor::empty({64, 256}, DType::Float32);
  float* p = w.data<float>();
  for (int c = 0; c < 64; ++c) {
    const float channel_scale = 0.01f * std::pow(100.0f, static_cast<float>(c) / 63.0f);
    for (int i = 0; i < 256; ++i) p[c * 256 + i] = channel_scale * normal(rng);
  }
  for (int k = 0; k < 8; ++k) p[(k * 977) % (64 * 256)] *= 6.0f;  // outliers
  return w;
}

// 32 tokens x 256 features of post-ReLU activations with a heavy tail.
Tensor example_activation() {
  std::mt19937 rng(99);
  std::student_t_distribution<float> heavy(3.0f);
  Tensor a = Tensor::empty({32, 256}, DType::Float32);
  for (float& v : a.span<float>()) v = std::max(0.0f, heavy(rng));
  return a;
}

struct Metrics {
  double max_abs_error = 0, rmse = 0, sqnr_db = 0;
};

Metrics measure(const Tensor& x, const Tensor& y) {
  const float* a = x.data<float>();
  const float* b = y.data<float>();
  double signal = 0, noise = 0, max_err = 0;
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    const double e = static_cast<double>(a[i]) - b[i];
    signal += static_cast<double>(a[i]) * a[i];
    noise += e * e;
    max_err = std::max(max_err, std::abs(e));
  }
  Metrics m;
  m.max_abs_error = max_err;
  m.rmse = std::sqrt(noise / static_cast<double>(x.numel()));
  m.sqnr_db = noise == 0 ? INFINITY : 10.0 * std::log10(signal / noise);
  return m;
}

QParams observe(const std::string& kind, const ObserverOptions& options, const Tensor& x) {
  auto obs = make_observer(kind, options);
  obs->observe(x);
  return obs->calculate_qparams();
}

Tensor fake_quant(const Tensor& x, const QParams& qp, const QuantRange& r) {
  if (qp.per_channel()) {
    return fake_quantize_per_channel(x, qp.scale, qp.zero_point, qp.axis, r.quant_min, r.quant_max);
  }
  return fake_quantize_per_tensor(x, qp.scale[0], qp.zero_point[0], r.quant_min, r.quant_max);
}

// int4 groupwise (torchao-style): uint4 0..15 affine, one (scale, zp) per 32 inputs.
Tensor int4_groupwise(const Tensor& w, std::int64_t group_size) {
  const std::int64_t rows = w.size(0), cols = w.size(1), groups = cols / group_size;
  Tensor scales = Tensor::empty({rows, groups}, DType::Float32);
  Tensor zps = Tensor::empty({rows, groups}, DType::Int32);
  const QuantRange uint4 = QuantRange::of(DType::UInt8, 0, 15);
  const float* p = w.data<float>();
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t g = 0; g < groups; ++g) {
      float lo = INFINITY, hi = -INFINITY;
      for (std::int64_t i = 0; i < group_size; ++i) {
        lo = std::min(lo, p[r * cols + g * group_size + i]);
        hi = std::max(hi, p[r * cols + g * group_size + i]);
      }
      const QParams qp = calculate_qparams({&lo, 1}, {&hi, 1}, QScheme::PerTensorAffine, uint4);
      scales.data<float>()[r * groups + g] = static_cast<float>(qp.scale[0]);
      zps.data<std::int32_t>()[r * groups + g] = static_cast<std::int32_t>(qp.zero_point[0]);
    }
  }
  return fake_quantize_per_group(w, scales, zps, group_size, 0, 15);
}

// int8 dynamic per-token activations: qparams per row at run time.
Tensor int8_per_token(const Tensor& a) {
  const QuantRange int8 = QuantRange::full(DType::Int8);
  const QParams qp = choose_qparams_per_row_dynamic(a, int8);
  return fake_quantize_per_channel(a, qp.scale, qp.zero_point, 0, int8.quant_min, int8.quant_max);
}

// APoT (b, k): levels from an observer over x, then nearest-level quantization.
Tensor apot_quant_dequant(const Tensor& x, int b, int k, bool is_signed) {
  apot::ApotObserver observer(b, k);
  observer.observe(x);
  return apot::quant_dequant_apot(x, observer.calculate_qparams(is_signed));
}

struct Row {
  std::string tensor, scheme;
  std::function<Tensor()> run;
};

}  // namespace

void register_demo_command(CLI::App& app) {
  auto* c = app.add_subcommand(
      "demo", "The built-in main job: every quantization scheme on a built-in example tensor");
  c->callback([] {
    const Tensor w = example_weight();
    const Tensor a = example_activation();
    const QuantRange uint8 = QuantRange::full(DType::UInt8);
    const QuantRange int8 = QuantRange::full(DType::Int8);
    ObserverOptions u8;
    ObserverOptions s8;
    s8.dtype = DType::Int8;
    s8.qscheme = QScheme::PerTensorSymmetric;
    ObserverOptions s8c = s8;
    s8c.qscheme = QScheme::PerChannelSymmetric;
    ObserverOptions hist = u8;
    const std::vector<Row> rows = {
        {"weight", "uint8 per-tensor affine (MinMax)",
         [&] { return fake_quant(w, observe("minmax", u8, w), uint8); }},
        {"weight", "int8 per-tensor symmetric (MinMax)",
         [&] { return fake_quant(w, observe("minmax", s8, w), int8); }},
        {"weight", "int8 per-channel symmetric (axis 0)",
         [&] { return fake_quant(w, observe("per-channel-minmax", s8c, w), int8); }},
        {"weight", "uint8 per-tensor affine (Histogram, L2)",
         [&] { return fake_quant(w, observe("histogram", hist, w), uint8); }},
        {"weight", "uint4 per-group affine (group 32)", [&] { return int4_groupwise(w, 32); }},
        {"weight", "APoT b=4 k=2 signed (49 levels)",
         [&] { return apot_quant_dequant(w, 4, 2, true); }},
        {"activation", "uint8 per-tensor affine (MinMax)",
         [&] { return fake_quant(a, observe("minmax", u8, a), uint8); }},
        {"activation", "uint8 per-tensor affine (Histogram, L2)",
         [&] { return fake_quant(a, observe("histogram", hist, a), uint8); }},
        {"activation", "int8 dynamic per-token", [&] { return int8_per_token(a); }},
        {"activation", "APoT b=4 k=2 unsigned (16 levels)",
         [&] { return apot_quant_dequant(a, 4, 2, false); }},
        {"activation", "uint4 per-tensor affine (MinMax, 16 levels)",
         [&] {
           ObserverOptions u4;
           u4.quant_min = 0;
           u4.quant_max = 15;
           return fake_quant(a, observe("minmax", u4, a), QuantRange::of(DType::UInt8, 0, 15));
         }},
    };
    fmt::print("quantkit demo: quantization error on built-in example tensors\n");
    fmt::print("  weight     [64, 256]: per-channel magnitudes 0.01..1, 8 outliers (x6)\n");
    fmt::print("  activation [32, 256]: post-ReLU, heavy tail (Student-t, 3 dof)\n\n");
    fmt::print("{:<11} {:<42} {:>12} {:>12} {:>10}\n", "tensor", "scheme", "max |err|", "RMSE",
               "SQNR dB");
    for (const Row& row : rows) {
      const Tensor& x = row.tensor == "weight" ? w : a;
      const Metrics m = measure(x, row.run());
      fmt::print("{:<11} {:<42} {:>12.6f} {:>12.6f} {:>10.2f}\n", row.tensor, row.scheme,
                 m.max_abs_error, m.rmse, m.sqnr_db);
    }
    fmt::print("\nHigher SQNR is better. Per-channel and per-group qparams follow the weight's\n"
               "per-channel magnitudes; the histogram observer trades outlier error for RMSE.\n");
  });
}

}  // namespace quantkit::cli
