// Golden tests of uniform affine quantization against torch 1.13 outputs
// (tests/data/uniform/*.json): every case bit-exact, at every ISA level this CPU has.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "quantkit/kernels/cpu_features.h"
#include "quantkit/quant/affine.h"
#include "support/golden.h"

namespace quantkit {
namespace {

using namespace quantkit::testing;
using nlohmann::json;

std::vector<kernels::IsaLevel> available_levels() {
  std::vector<kernels::IsaLevel> levels;
  for (auto l : {kernels::IsaLevel::Portable, kernels::IsaLevel::Avx2, kernels::IsaLevel::Avx512}) {
    if (static_cast<int>(l) <= static_cast<int>(kernels::detected_isa())) levels.push_back(l);
  }
  return levels;
}

struct IsaGuard {
  ~IsaGuard() { kernels::clear_isa_override(); }
};

// torch's quantized dtype names -> storage dtypes.
DType storage_dtype(const std::string& torch_name) {
  if (torch_name == "quint8") return DType::UInt8;
  if (torch_name == "qint8") return DType::Int8;
  if (torch_name == "qint32") return DType::Int32;
  throw std::runtime_error("unexpected dtype in golden data: " + torch_name);
}

Tensor float_tensor(const json& c, const std::string& key) {
  return Tensor::from_vector(floats_from_bits(c[key + "_bits"]), shape_of(c["shape"]));
}

// The integer codes of a case as a tensor of the storage dtype.
Tensor code_tensor(const json& c, DType dtype) {
  const auto codes = c["q"].get<std::vector<std::int64_t>>();
  return Tensor::from_vector(codes, shape_of(c["shape"])).to(dtype);
}

std::vector<std::int64_t> codes_of(const Tensor& q) { return q.to(DType::Int64).to_vector<std::int64_t>(); }

// Runs check(case) for every case of `family` in the file at every ISA level; returns how
// many cases ran per level.
template <class Check>
std::size_t for_each_case(const json& doc, const std::vector<std::string>& ops, Check check) {
  IsaGuard guard;
  std::size_t checked = 0;
  for (auto level : available_levels()) {
    kernels::set_isa_override(level);
    checked = 0;
    for (const json& c : doc["cases"]) {
      const auto op = c["op"].get<std::string>();
      if (std::find(ops.begin(), ops.end(), op) == ops.end()) continue;
      SCOPED_TRACE(case_label(c) + " op=" + op + " isa=" + std::string(kernels::isa_name(level)));
      check(c);
      ++checked;
    }
  }
  return checked;
}

TEST(AffineGolden, QuantizePerTensor) {
  const json doc = load_json("uniform/quantize_per_tensor.json");
  const std::size_t n = for_each_case(doc, {"quantize_per_tensor", "dequantize_only"}, [](const json& c) {
    const DType dtype = storage_dtype(c["dtype"]);
    const QuantRange range = QuantRange::of(dtype, c["qmin"], c["qmax"]);
    const double scale = double_from_bits(c["scale_f64_bits"]);
    const std::int64_t zp = c["zero_point"];
    Tensor q = code_tensor(c, dtype);
    if (c["op"] == "quantize_per_tensor") {
      q = quantize_per_tensor(float_tensor(c, "x"), scale, zp, range);
      EXPECT_TRUE(ints_equal(c["q"].get<std::vector<std::int64_t>>(), codes_of(q)));
    }
    const Tensor dq = dequantize_per_tensor(q, scale, zp);
    EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c["dq_bits"]), dq.to_vector<float>()));
  });
  EXPECT_EQ(n, doc["num_cases"].get<std::size_t>());
}

TEST(AffineGolden, QuantizePerChannel) {
  const json doc = load_json("uniform/quantize_per_channel.json");
  const std::size_t n = for_each_case(doc, {"quantize_per_channel", "dequantize_only"}, [](const json& c) {
    const DType dtype = storage_dtype(c["dtype"]);
    const QuantRange range = QuantRange::of(dtype, c["qmin"], c["qmax"]);
    const std::vector<double> scales = doubles_from_bits(c["scales_f64_bits"]);
    const auto zps = c["zero_points"].get<std::vector<std::int64_t>>();
    const std::int64_t axis = c["axis"];
    Tensor q = code_tensor(c, dtype);
    if (c["op"] == "quantize_per_channel") {
      q = quantize_per_channel(float_tensor(c, "x"), scales, zps, axis, range);
      EXPECT_TRUE(ints_equal(c["q"].get<std::vector<std::int64_t>>(), codes_of(q)));
    }
    const Tensor dq = dequantize_per_channel(q, scales, zps, axis);
    EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c["dq_bits"]), dq.to_vector<float>()));
  });
  EXPECT_EQ(n, doc["num_cases"].get<std::size_t>());
}

TEST(AffineGolden, FakeQuantizePerTensorAndPerChannel) {
  const json doc = load_json("uniform/fake_quantize.json");
  const std::size_t n = for_each_case(
      doc, {"fake_quantize_per_tensor_affine", "fake_quantize_per_channel_affine"},
      [](const json& c) {
        const Tensor x = float_tensor(c, "x");
        const Tensor dy = float_tensor(c, "dy");
        const std::int64_t qmin = c["quant_min"];
        const std::int64_t qmax = c["quant_max"];
        Tensor y, dx;
        if (c["op"] == "fake_quantize_per_tensor_affine") {
          const double scale = double_from_bits(c["scale_f64_bits"]);
          const std::int64_t zp = c["zero_point"];
          y = fake_quantize_per_tensor(x, scale, zp, qmin, qmax);
          dx = fake_quantize_per_tensor_backward(dy, x, scale, zp, qmin, qmax);
        } else {
          // torch requires float32 scales here; they are passed as doubles holding those values.
          const std::vector<float> scales_f = floats_from_bits(c["scales_bits"]);
          const std::vector<double> scales(scales_f.begin(), scales_f.end());
          const std::int64_t axis = c["axis"];
          if (c["zero_point_dtype"] == "float32") {
            const std::vector<float> zps = floats_from_bits(c["zero_points_bits"]);
            y = fake_quantize_per_channel_float_zp(x, scales, zps, axis, qmin, qmax);
            dx = fake_quantize_per_channel_float_zp_backward(dy, x, scales, zps, axis, qmin, qmax);
          } else {
            const auto zps = c["zero_points"].get<std::vector<std::int64_t>>();
            y = fake_quantize_per_channel(x, scales, zps, axis, qmin, qmax);
            dx = fake_quantize_per_channel_backward(dy, x, scales, zps, axis, qmin, qmax);
          }
        }
        EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c["y_bits"]), y.to_vector<float>()));
        EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(c["dx_bits"]), dx.to_vector<float>()));
      });
  EXPECT_EQ(n, 89u + 44u);  // the learnable (LSQ) cases are tested with fake_quantize.h
}

}  // namespace
}  // namespace quantkit
