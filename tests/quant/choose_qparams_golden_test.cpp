// choose_qparams_dynamic.json (torch 1.13): torch._choose_qparams_per_tensor and
// torch.quantize_per_tensor_dynamic, every result: the unrounded double scale bit for bit,
// the zero point, and for quantize_per_tensor_dynamic the codes and their dequantization.
//
// Our API takes reduce_range as given; torch forces it off under the 'qnnpack' engine, so
// the qnnpack cases run here with reduce_range = false (their effective range confirms it).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "quantkit/quant/affine.h"
#include "quantkit/quant/choose_qparams.h"
#include "support/golden.h"

namespace quantkit {
namespace {

using nlohmann::json;
using testing::bits_of;
using testing::case_label;
using testing::double_from_bits;
using testing::float_from_bits;
using testing::floats_bitwise_equal;
using testing::floats_from_bits;
using testing::ints_equal;

const json& golden() {
  static const json data = testing::load_json("uniform/choose_qparams_dynamic.json");
  return data;
}

// reduce_range as the torch call saw it.
bool effective_reduce_range(const json& c, const json& r) {
  return c["engine"] != "qnnpack" && r["reduce_range"].get<bool>();
}

void expect_scale_and_zero_point(const json& r, const DynamicQParams& qp) {
  EXPECT_EQ(bits_of(qp.scale), bits_of(double_from_bits(r["scale_f64_bits"].get<std::string>())))
      << "scale " << qp.scale << " vs torch " << r["scale"];
  EXPECT_EQ(bits_of(static_cast<float>(qp.scale)),
            bits_of(float_from_bits(r["scale_f32_bits"].get<std::string>())));
  EXPECT_EQ(qp.zero_point, r["zero_point"].get<std::int64_t>());
}

TEST(ChooseQParamsDynamicGolden, EveryResult) {
  int results = 0;
  int qnnpack_cases = 0;
  for (const json& c : golden()["cases"]) {
    SCOPED_TRACE(case_label(c));
    const Tensor x =
        Tensor::from_vector(floats_from_bits(c["x_bits"]), testing::shape_of(c["shape"]));
    const Tensor before = x.clone();
    const float x_min = float_from_bits(c["x_min_bits"].get<std::string>());
    const float x_max = float_from_bits(c["x_max_bits"].get<std::string>());
    if (c["engine"] == "qnnpack") ++qnnpack_cases;
    for (const json& r : c["results"]) {
      ++results;
      const bool rr = effective_reduce_range(c, r);
      const std::string op = r["op"].get<std::string>();
      SCOPED_TRACE(op + " reduce_range=" + (r["reduce_range"].get<bool>() ? "true" : "false"));
      const DType dtype = op == "_choose_qparams_per_tensor" ? DType::UInt8
                          : r["dtype"] == "qint8"            ? DType::Int8
                                                             : DType::UInt8;
      // The scalar form on the tensor's range gives the same, with the effective range
      // computed by the function itself.
      const DynamicQParams scalar =
          choose_qparams_dynamic(x_min, x_max, dtype_min(dtype), dtype_max(dtype), rr);
      expect_scale_and_zero_point(r, scalar);
      if (op == "_choose_qparams_per_tensor") {
        expect_scale_and_zero_point(r, choose_qparams_per_tensor_dynamic(x, DType::UInt8, rr));
        continue;
      }
      ASSERT_EQ(op, "quantize_per_tensor_dynamic");
      DynamicQParams qp;
      const Tensor q = quantize_per_tensor_dynamic(x, dtype, rr, &qp);
      expect_scale_and_zero_point(r, qp);
      ASSERT_EQ(q.dtype(), dtype);
      EXPECT_EQ(q.shape(), x.shape());
      const auto expected_q = r["q"].get<std::vector<std::int64_t>>();
      const Tensor dq = dequantize_per_tensor(q, qp.scale, qp.zero_point);
      if (dtype == DType::Int8) {
        EXPECT_TRUE(ints_equal(expected_q, q.to_vector<std::int8_t>()));
      } else {
        EXPECT_TRUE(ints_equal(expected_q, q.to_vector<std::uint8_t>()));
      }
      EXPECT_TRUE(floats_bitwise_equal(floats_from_bits(r["dq_bits"]), dq.to_vector<float>()));
    }
    EXPECT_TRUE(bitwise_equal(x, before)) << "the input was modified";
  }
  EXPECT_EQ(results, 138);
  EXPECT_GT(qnnpack_cases, 0);
}

// Per-row (per-token) dynamic qparams are the per-tensor formula on each row: rows built from
// golden inputs reproduce their golden per-tensor results.
TEST(ChooseQParamsDynamicGolden, PerRowIsPerTensorOnEachRow) {
  std::vector<float> rows;
  std::vector<const json*> expected;
  std::int64_t row_len = 0;
  for (const json& c : golden()["cases"]) {
    const auto x = floats_from_bits(c["x_bits"]);
    if (row_len == 0) row_len = static_cast<std::int64_t>(x.size());
    if (static_cast<std::int64_t>(x.size()) != row_len) continue;
    rows.insert(rows.end(), x.begin(), x.end());
    for (const json& r : c["results"]) {
      if (r["op"] == "_choose_qparams_per_tensor" && !r["reduce_range"].get<bool>()) {
        expected.push_back(&r);
      }
    }
  }
  const auto n_rows = static_cast<std::int64_t>(expected.size());
  ASSERT_GE(n_rows, 3);
  const Tensor x = Tensor::from_vector(rows, Shape{n_rows, row_len});
  const QParams qp = choose_qparams_per_row_dynamic(x, QuantRange::full(DType::UInt8));
  ASSERT_EQ(qp.scale.size(), static_cast<std::size_t>(n_rows));
  for (std::int64_t i = 0; i < n_rows; ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    expect_scale_and_zero_point(*expected[static_cast<std::size_t>(i)],
                                DynamicQParams{qp.scale[static_cast<std::size_t>(i)],
                                               qp.zero_point[static_cast<std::size_t>(i)]});
  }
}

}  // namespace
}  // namespace quantkit
