// ONNX's own backend node tests for the quantization ops (Debian libonnx-testdata):
// import model.onnx, run every test_data_set_*/input_*.pb through graph::run_graph and
// compare with output_*.pb EXACTLY (dtype, shape and bits).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
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

class OnnxBackendNodeTest : public testing::TestWithParam<std::string> {};

TEST_P(OnnxBackendNodeTest, MatchesExpectedOutputsExactly) {
  if (!fs::is_directory(kNodeTests)) {
    GTEST_SKIP() << kNodeTests << " is missing: install Debian's libonnx-testdata "
                 << "(scripts/install-deps does)";
  }
  const fs::path dir = kNodeTests / GetParam();
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
      EXPECT_TRUE(quantkit::bitwise_equal(got[i], expected[i]))
          << "output " << i << "\n  got      " << describe(got[i]) << "\n  expected "
          << describe(expected[i]);
    }
  }
  EXPECT_GE(sets, 1) << "no test_data_set_* in " << dir;
}

INSTANTIATE_TEST_SUITE_P(QuantizationOps, OnnxBackendNodeTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

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
