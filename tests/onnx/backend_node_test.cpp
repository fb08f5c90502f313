// ONNX's own backend node tests (Debian libonnx-testdata): import model.onnx, run every
// test_data_set_*/input_*.pb through graph::run_graph and compare with output_*.pb — EXACTLY
// (dtype, shape and bits) for the quantization ops, within float32 rounding for the float
// math ops, within a relative 1e-5 for the reductions and LayerNormalization (numpy's expected
// values come from its own exp / erf / pow, which may differ from the C library's in the last bit).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "quantkit/graph/interpreter.h"
#include "quantkit/onnx/onnx_import.h"

namespace {

namespace fs = std::filesystem;
using quantkit::DType;
using quantkit::Tensor;

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

// Every quantization case ONNX 1.12 ships. The test also checks that the directory holds no
// other case with these prefixes, so a newer libonnx-testdata cannot add cases unnoticed.
const std::vector<std::string> kCases = {
    "test_convinteger_with_padding",
    "test_convinteger_without_padding",
    "test_dequantizelinear",
    "test_dequantizelinear_axis",
    "test_dynamicquantizelinear",
    "test_dynamicquantizelinear_expanded",
    "test_dynamicquantizelinear_max_adjusted",
    "test_dynamicquantizelinear_max_adjusted_expanded",
    "test_dynamicquantizelinear_min_adjusted",
    "test_dynamicquantizelinear_min_adjusted_expanded",
    "test_matmulinteger",
    "test_qlinearconv",
    "test_qlinearmatmul_2D",
    "test_qlinearmatmul_3D",
    "test_quantizelinear",
    "test_quantizelinear_axis",
};

// The float math ops transformers need (GELU's Erf, softmax's Exp, LayerNorm's Pow / Sqrt).
// Not listed: test_pow_types_* whose exponent is a run-time input of another dtype (the
// importer takes a mixed-dtype exponent only as a constant) or whose base is an integer.
const std::vector<std::string> kFloatCases = {"test_erf",
                                              "test_exp",
                                              "test_exp_example",
                                              "test_neg",
                                              "test_neg_example",
                                              "test_sqrt",
                                              "test_sqrt_example",
                                              "test_pow",
                                              "test_pow_bcast_array",
                                              "test_pow_bcast_scalar",
                                              "test_pow_example"};

// Reductions and LayerNormalization (with its Mean and InvStdDev outputs): numpy sums
// pairwise, quantkit in double (mean) or sequentially in float32 (layer_norm, as ONNX Runtime),
// so these agree within a relative 1e-5. Not listed: the *_expanded forms (Reciprocal,
// ConstantOfShape on a computed shape: not imported).
const std::vector<std::string> kReductionCases = {
    "test_reduce_mean_default_axes_keepdims_example",
    "test_reduce_mean_default_axes_keepdims_random",
    "test_reduce_mean_do_not_keepdims_example",
    "test_reduce_mean_do_not_keepdims_random",
    "test_reduce_mean_keepdims_example",
    "test_reduce_mean_keepdims_random",
    "test_reduce_mean_negative_axes_keepdims_example",
    "test_reduce_mean_negative_axes_keepdims_random",
    "test_layer_normalization_2d_axis0",
    "test_layer_normalization_2d_axis1",
    "test_layer_normalization_2d_axis_negative_1",
    "test_layer_normalization_2d_axis_negative_2",
    "test_layer_normalization_3d_axis0_epsilon",
    "test_layer_normalization_3d_axis1_epsilon",
    "test_layer_normalization_3d_axis2_epsilon",
    "test_layer_normalization_3d_axis_negative_1_epsilon",
    "test_layer_normalization_3d_axis_negative_2_epsilon",
    "test_layer_normalization_3d_axis_negative_3_epsilon",
    "test_layer_normalization_4d_axis0",
    "test_layer_normalization_4d_axis1",
    "test_layer_normalization_4d_axis2",
    "test_layer_normalization_4d_axis3",
    "test_layer_normalization_4d_axis_negative_1",
    "test_layer_normalization_4d_axis_negative_2",
    "test_layer_normalization_4d_axis_negative_3",
    "test_layer_normalization_4d_axis_negative_4",
    "test_layer_normalization_default_axis",
};

const std::vector<std::string> kPrefixes = {
    "test_quantizelinear",   "test_dequantizelinear", "test_qlinearconv",
    "test_qlinearmatmul",    "test_convinteger",      "test_matmulinteger",
    "test_dynamicquantizelinear"};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

DType dtype_of(int elem_type) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT: return DType::Float32;
    case onnx::TensorProto::UINT8: return DType::UInt8;
    case onnx::TensorProto::INT8: return DType::Int8;
    case onnx::TensorProto::INT32: return DType::Int32;
    case onnx::TensorProto::INT64: return DType::Int64;
    default: break;
  }
  throw std::runtime_error("unexpected element type " + std::to_string(elem_type));
}

// The test data stores raw_data (little-endian), except a few typed-field tensors.
Tensor load_tensor(const fs::path& path) {
  onnx::TensorProto proto;
  const std::string bytes = read_file(path);
  if (!proto.ParseFromString(bytes)) throw std::runtime_error("cannot parse " + path.string());
  quantkit::Shape shape(proto.dims().begin(), proto.dims().end());
  const DType dtype = dtype_of(proto.data_type());
  Tensor t = Tensor::empty(shape, dtype);
  if (proto.has_raw_data()) {
    if (proto.raw_data().size() != t.nbytes()) throw std::runtime_error("size mismatch");
    std::memcpy(t.raw_data(), proto.raw_data().data(), t.nbytes());
  } else if (dtype == DType::Float32) {
    std::copy(proto.float_data().begin(), proto.float_data().end(), t.data<float>());
  } else if (dtype == DType::Int64) {
    std::copy(proto.int64_data().begin(), proto.int64_data().end(), t.data<std::int64_t>());
  } else {
    quantkit::visit_dtype(dtype, [&](auto zero) {
      using T = decltype(zero);
      std::transform(proto.int32_data().begin(), proto.int32_data().end(), t.data<T>(),
                     [](std::int32_t v) { return static_cast<T>(v); });
    });
  }
  return t;
}

std::vector<Tensor> load_numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<Tensor> out;
  for (int i = 0;; ++i) {
    const fs::path p = dir / (prefix + std::to_string(i) + ".pb");
    if (!fs::exists(p)) break;
    out.push_back(load_tensor(p));
  }
  return out;
}

std::string describe(const Tensor& t) {
  std::ostringstream s;
  s << quantkit::dtype_name(t.dtype()) << quantkit::shape_to_string(t.shape()) << " {";
  quantkit::visit_dtype(t.dtype(), [&](auto zero) {
    using T = decltype(zero);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      s << (i ? ", " : "") << +t.data<T>()[i];
    }
  });
  return s.str() + "}";
}

// How a case's outputs must match: bit for bit, or within |got - expected| <= max(rtol *
// |expected|, atol) with NaN where NaN is expected.
struct Tolerance {
  bool exact = false;
  float rtol = 0, atol = 0;
};
constexpr Tolerance kExact{true};
constexpr Tolerance kTwoUlps{false, 0x1p-22f, 1e-30f};
constexpr Tolerance kReduction{false, 1e-5f, 1e-6f};

bool close(const Tensor& got, const Tensor& expected, Tolerance tol) {
  if (got.dtype() != DType::Float32 || expected.dtype() != DType::Float32 ||
      got.shape() != expected.shape()) {
    return false;
  }
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const float g = got.data<float>()[i], e = expected.data<float>()[i];
    if (std::isnan(e) != std::isnan(g)) return false;
    if (std::isnan(e) || g == e) continue;
    if (std::fabs(g - e) > std::max(std::fabs(e) * tol.rtol, tol.atol)) return false;
  }
  return true;
}

void run_case(const std::string& name, Tolerance tol) {
  if (!fs::is_directory(kNodeTests)) {
    GTEST_SKIP() << kNodeTests << " is missing: install Debian's libonnx-testdata "
                 << "(scripts/install-deps does)";
  }
  const fs::path dir = kNodeTests / name;
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  const quantkit::graph::Graph g = quantkit::onnx::import_onnx(dir / "model.onnx");
  int sets = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!entry.is_directory() || !entry.path().filename().string().starts_with("test_data_set_")) {
      continue;
    }
    ++sets;
    SCOPED_TRACE(entry.path().string());
    const std::vector<Tensor> inputs = load_numbered(entry.path(), "input_");
    const std::vector<Tensor> expected = load_numbered(entry.path(), "output_");
    const std::vector<Tensor> got = quantkit::graph::run_graph(g, inputs);
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(tol.exact ? quantkit::bitwise_equal(got[i], expected[i])
                            : close(got[i], expected[i], tol))
          << "output " << i << "\n  got      " << describe(got[i]) << "\n  expected "
          << describe(expected[i]);
    }
  }
  EXPECT_GE(sets, 1) << "no test_data_set_* in " << dir;
}

const auto kCaseName = [](const testing::TestParamInfo<std::string>& info) { return info.param; };

class OnnxBackendNodeTest : public testing::TestWithParam<std::string> {};

TEST_P(OnnxBackendNodeTest, MatchesExpectedOutputsExactly) { run_case(GetParam(), kExact); }

INSTANTIATE_TEST_SUITE_P(QuantizationOps, OnnxBackendNodeTest, testing::ValuesIn(kCases),
                         kCaseName);

class OnnxBackendFloatNodeTest : public testing::TestWithParam<std::string> {};

TEST_P(OnnxBackendFloatNodeTest, MatchesExpectedOutputsWithinFloat32Rounding) {
  run_case(GetParam(), kTwoUlps);
}

INSTANTIATE_TEST_SUITE_P(FloatMathOps, OnnxBackendFloatNodeTest, testing::ValuesIn(kFloatCases),
                         kCaseName);

class OnnxBackendReductionNodeTest : public testing::TestWithParam<std::string> {};

TEST_P(OnnxBackendReductionNodeTest, MatchesExpectedOutputsWithinRelative1e5) {
  run_case(GetParam(), kReduction);
}

INSTANTIATE_TEST_SUITE_P(ReductionOps, OnnxBackendReductionNodeTest,
                         testing::ValuesIn(kReductionCases), kCaseName);

TEST(OnnxBackendNodeCases, ListCoversEveryQuantizationCase) {
  if (!fs::is_directory(kNodeTests)) GTEST_SKIP() << kNodeTests << " is missing";
  std::set<std::string> found;
  for (const auto& entry : fs::directory_iterator(kNodeTests)) {
    const std::string name = entry.path().filename().string();
    for (const std::string& prefix : kPrefixes) {
      if (name.starts_with(prefix)) found.insert(name);
    }
  }
  EXPECT_EQ(found, std::set<std::string>(kCases.begin(), kCases.end()));
}

}  // namespace
