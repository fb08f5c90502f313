// Every named config round-trips through ONNX: quantize (pipeline::quantize_model) → export
// → import → run gives, bit for bit, what the in-memory quantized graph gives — through
// LoadedModel (lowering + runtime: what `quantkit run` executes). The file carries what the
// run needs exactly: int32 biases equal to the lowering's, uint8 activations with the same
// integers + 128, APoT codes with their level table, dynamic quantization as
// DynamicQuantizeLinear.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "export_test_models.h"
#include <onnx/onnx_pb.h>
#include "quantkit/core/atomic_file.h"
#include "quantkit/core/error.h"
#include "quantkit/onnx/onnx_export.h"
#include "quantkit/onnx/onnx_import.h"
#include "quantkit/pipeline/loaded_model.h"
#include "quantkit/pipeline/quantize_model.h"
#include "pt2e/pt2e_test_util.h"

namespace quantkit::onnx {
namespace {

namespace fs = std::filesystem;
using graph::OpKind;

// Ops by name, without the activations the export may fold into the quantize after them
// (export_activation_folding.cpp): the file's graph has no relu where its quantize clamps.
std::map<std::string, std::size_t> op_counts(const graph::Graph& g) {
  std::map<std::string, std::size_t> counts;
  for (const graph::Node* n : g.nodes()) {
    if (n->op() == OpKind::Relu || n->op() == OpKind::Hardtanh || n->op() == OpKind::Clamp) {
      continue;
    }
    ++counts[std::string(graph::op_name(n->op()))];
  }
  return counts;
}

// The int32 bias of every fused conv / linear, in node order.
std::vector<std::vector<std::int32_t>> fused_biases(const graph::Graph& g) {
  std::vector<std::vector<std::int32_t>> out;
  for (const graph::Node* n : g.nodes()) {
    if (n->op() == OpKind::QuantizedConv2d || n->op() == OpKind::QuantizedLinear) {
      out.push_back(n->input(2)->data().to_vector<std::int32_t>());
    }
  }
  return out;
}

class ConfigRoundTrip : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string name = GetParam();
    for (char& c : name) c = c == '-' ? '_' : c;
    path_ = fs::temp_directory_path() /
            ("quantkit_config_roundtrip_" + std::to_string(::getpid()) + "_" + name + ".onnx");
  }
  void TearDown() override { fs::remove(path_); }

  fs::path path_;
};

TEST_P(ConfigRoundTrip, ExportImportRunEqualsTheInMemoryGraphExactly) {
  const graph::Graph fp32 = testing::float_cnn(1);
  std::vector<Tensor> calibration;
  for (std::uint32_t seed = 100; seed < 108; ++seed)
    calibration.push_back(testing::cnn_input(1, seed));
  const graph::Graph qdq = pipeline::quantize_model(fp32, GetParam(), calibration);
  write_file_atomically(path_, export_onnx_bytes(qdq));

  const pipeline::LoadedModel in_memory(qdq.clone(), 1, "in-memory");
  const pipeline::LoadedModel from_file(path_, 1);
  EXPECT_EQ(in_memory.lowered(), from_file.lowered());
  // The same integer graph: the same fused and remaining ops, the same int32 biases.
  EXPECT_EQ(op_counts(from_file.executable()), op_counts(in_memory.executable()));
  EXPECT_EQ(fused_biases(from_file.executable()), fused_biases(in_memory.executable()));
  // ... and no clamp the in-memory graph lacks: a sub-range activation (the W4A4 configs' int8
  // [-8, 7]) is written QuantizeLinear → Clip and read back as one quantize with that range,
  // not as a clamp the runtime would run outside the fused ops.
  EXPECT_LE(graph::count_nodes(from_file.executable(), OpKind::Clamp),
            graph::count_nodes(in_memory.executable(), OpKind::Clamp));
  if (GetParam() == "int8" || GetParam() == "int8-per-channel") {  // all four layers fused
    EXPECT_EQ(fused_biases(in_memory.executable()).size(), 4u);
  }
  if (GetParam() == "int8-dynamic") {  // DynamicQuantizeLinear → DequantizeLinear read back
    EXPECT_EQ(graph::count_nodes(from_file.executable(), OpKind::DynamicQuantizedLinear), 2u);
  }
  if (GetParam().rfind("apot-", 0) == 0) {  // the weights stay codes + levels
    EXPECT_EQ(graph::count_nodes(from_file.graph(), OpKind::ApotDequantize),
              graph::count_nodes(qdq, OpKind::ApotDequantize));
    EXPECT_GT(graph::count_nodes(qdq, OpKind::ApotDequantize), 0u);
  }
  for (std::uint32_t seed = 200; seed < 216; ++seed) {
    const Tensor x = testing::cnn_input(1, seed);
    const Tensor expected = in_memory.run({x}).at(0);
    const Tensor actual = from_file.run({x}).at(0);
    ASSERT_EQ(actual.shape(), expected.shape());
    ASSERT_EQ(actual.dtype(), DType::Float32);
    EXPECT_EQ(actual.to_vector<float>(), expected.to_vector<float>()) << "input seed " << seed;
  }
}

// The paper's 3-bit APoT weights: the file holds each weight as a uint8 code below 7 and the
// 7-entry level table, and imports back to the same codes and levels.
TEST(ApotPaperWeights, W3CodesAndLevelsRoundTripExactly) {
  const graph::Graph fp32 = testing::float_cnn(1);
  std::vector<Tensor> calibration;
  for (std::uint32_t seed = 100; seed < 104; ++seed)
    calibration.push_back(testing::cnn_input(1, seed));
  const graph::Graph qdq = pipeline::quantize_model(fp32, "apot-w3", calibration);
  const std::string bytes = export_onnx_bytes(qdq);
  ::onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(bytes));
  std::set<std::string> cast_inputs;  // the codes go through Cast(int32) into Gather
  for (const auto& node : model.graph().node()) {
    if (node.op_type() == "Cast") cast_inputs.insert(node.input(0));
  }
  std::size_t code_tensors = 0;
  for (const auto& init : model.graph().initializer()) {
    if (!cast_inputs.contains(init.name())) continue;
    EXPECT_EQ(init.data_type(), ::onnx::TensorProto::UINT8) << init.name();
    ++code_tensors;
    for (unsigned char c : init.raw_data()) EXPECT_LT(c, 7);
  }
  const auto apot_nodes = [](const graph::Graph& g) {
    std::vector<const graph::Node*> out;
    for (const graph::Node* n : g.nodes()) {
      if (n->op() == OpKind::ApotDequantize) out.push_back(n);
    }
    return out;
  };
  const graph::Graph imported = import_onnx_bytes(bytes, "apot-w3");
  const auto want = apot_nodes(qdq), got = apot_nodes(imported);
  ASSERT_EQ(got.size(), want.size());
  ASSERT_GT(want.size(), 0u);
  EXPECT_EQ(code_tensors, want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i]->attr_floats("levels").size(), 7u);
    EXPECT_EQ(got[i]->attr_floats("levels"), want[i]->attr_floats("levels"));
    EXPECT_EQ(got[i]->input(0)->data().to(DType::Int32).to_vector<std::int32_t>(),
              want[i]->input(0)->data().to(DType::Int32).to_vector<std::int32_t>());
  }
}

// From opset 21 on, 4-bit weights are stored as INT4 (element type 22, two per byte): the
// file shrinks, reads back as the same int8 values with the 4-bit range, and runs exactly
// like the in-memory graph; int8 weights stay int8.
TEST(Int4Weights, Opset21StoresFourBitWeightsInHalfTheBytesAndRoundTrips) {
  const graph::Graph fp32 = testing::float_cnn(1);
  std::vector<Tensor> calibration;
  for (std::uint32_t seed = 100; seed < 104; ++seed)
    calibration.push_back(testing::cnn_input(1, seed));
  const auto int4_initializers = [](const std::string& bytes) {
    ::onnx::ModelProto model;
    EXPECT_TRUE(model.ParseFromString(bytes));
    std::size_t n = 0;
    for (const auto& init : model.graph().initializer()) n += init.data_type() == 22 ? 1 : 0;
    return n;
  };
  for (const char* config : {"uniform-w4", "uniform-w2", "int8-per-channel"}) {
    const graph::Graph qdq = pipeline::quantize_model(fp32, config, calibration);
    const std::string v17 = export_onnx_bytes(qdq, {.opset = 17});
    const std::string v21 = export_onnx_bytes(qdq, {.opset = 21});
    const bool four_bit = std::string(config) != "int8-per-channel";
    // Each per-channel weight dequantize: the weight and its zero points.
    const std::size_t weights = graph::count_nodes(qdq, OpKind::DequantizePerChannel);
    EXPECT_EQ(int4_initializers(v21), four_bit ? 2 * weights : 0u) << config;
    EXPECT_EQ(int4_initializers(v17), 0u) << config;
    if (four_bit) {
      EXPECT_LT(v21.size(), v17.size()) << config;
    }
    const fs::path path = fs::temp_directory_path() /
                          ("quantkit_int4_" + std::to_string(::getpid()) + ".onnx");
    write_file_atomically(path, v21);
    const pipeline::LoadedModel in_memory(qdq.clone(), 1, "in-memory");
    const pipeline::LoadedModel from_file(path, 1);
    fs::remove(path);
    for (std::uint32_t seed = 200; seed < 204; ++seed) {
      const Tensor x = testing::cnn_input(1, seed);
      EXPECT_EQ(from_file.run({x}).at(0).to_vector<float>(),
                in_memory.run({x}).at(0).to_vector<float>())
          << config << ", input seed " << seed;
    }
  }
}

// The per-token configs export as decomposed float arithmetic (docs/onnx.md), which imports
// back as float ops, not as the per-token ops: they are checked below, not by the exact
// round trip above.
bool has_onnx_form(std::string_view config) {
  return config != "int8-dynamic-per-token" && config != "8da4w";
}

// Export (opset 17: float weights; 21: INT4 blocked weights) and import back: the imported
// float graph computes the Q/DQ graph's values up to float rounding; opset 21's blocked
// DequantizeLinear is refused by the importer naming block_size.
TEST(PerTokenConfigs, ExportAndImportBackAsFloatArithmetic) {
  const graph::Graph fp32 = testing::per_token_mlp(5);
  for (std::string_view config : {"int8-dynamic-per-token", "8da4w"}) {
    SCOPED_TRACE(std::string(config));
    const graph::Graph qdq = pipeline::quantize_model(fp32, config, {},
                                                      pipeline::QuantizeOptions{32}, nullptr);
    const graph::Graph back = import_onnx_bytes(export_onnx_bytes(qdq, {.opset = 17}), "pt.onnx");
    EXPECT_EQ(graph::count_nodes(back, OpKind::ChooseQParamsPerToken), 0u);
    for (std::uint32_t seed = 300; seed < 304; ++seed) {
      const Tensor x = testing::per_token_input(5, seed);
      EXPECT_GT(pt2e::testing::sqnr_db(graph::run_graph(qdq, {x})[0],
                                       graph::run_graph(back, {x})[0]),
                60.0);
    }
    const std::string v21 = export_onnx_bytes(qdq, {.opset = 21});
    ::onnx::ModelProto model;
    ASSERT_TRUE(model.ParseFromString(v21));
    std::size_t int4 = 0, blocked = 0;
    for (const auto& init : model.graph().initializer()) int4 += init.data_type() == 22 ? 1 : 0;
    for (const auto& node : model.graph().node()) {
      for (const auto& a : node.attribute()) blocked += a.name() == "block_size" ? 1 : 0;
    }
    // 8da4w: both weights (and their zero points) as INT4 with block_size 32.
    EXPECT_EQ(int4, config == "8da4w" ? 4u : 0u);
    EXPECT_EQ(blocked, config == "8da4w" ? 2u : 0u);
    if (config == "8da4w") {
      try {
        (void)import_onnx_bytes(v21, "pt21.onnx");
        FAIL() << "imported a blocked DequantizeLinear";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("block_size"), std::string::npos) << e.what();
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EveryConfig, ConfigRoundTrip, ::testing::ValuesIn([] {
                           std::vector<std::string> names;
                           for (std::string_view n : pipeline::config_names())
                             if (has_onnx_form(n)) names.emplace_back(n);
                           return names;
                         }()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) c = c == '-' ? '_' : c;
                           return name;
                         });

}  // namespace
}  // namespace quantkit::onnx
