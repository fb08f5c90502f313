// Port of PyTorch's test/quantization/pt2e/test_representation.py
// (TestPT2ERepresentation): every case runs the real flow — nn modules,
// export_model, XNNPACKQuantizer, prepare_pt2e, calibration, convert_pt2e with
// and without the reference representation — with the seed's node-occurrence
// expectations in our op names and its numeric criterion
// (|reference − Q/DQ| ≤ 2 × output scale + 1e-5; dynamic linear: 1e-4).
//
// Name mapping (reference_representation.h):
// quantized_decomposed.quantize/dequantize_* ↔ the same op names; out_dtype
// (the requantize multiplications) ↔ count_out_dtype_mul. Checks marked "ours"
// go beyond the seed: they pin which pattern fired.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph/graph_test_util.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/functional.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/nn.h"
#include "quantkit/graph/printer.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/reference_representation.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"

namespace quantkit::pt2e {
namespace {

using graph::count_nodes;
using graph::Graph;
using graph::Module;
using graph::OpKind;
using graph::Proxy;
using graph::testing::random_tensor;

// checkGraphModuleNodes' expected_node_occurrence in our names.
struct Occurrences {
  std::vector<std::pair<OpKind, std::size_t>> ops;
  std::optional<std::size_t> out_dtype;  // ns.call_function(out_dtype)
};

::testing::AssertionResult has_occurrences(const Graph& g, const Occurrences& expected) {
  for (const auto& [op, count] : expected.ops) {
    if (count_nodes(g, op) != count) {
      return ::testing::AssertionFailure() << graph::op_name(op) << " occurs " << count_nodes(g, op)
                                           << " times, expected " << count << "\n"
                                           << graph::to_string(g);
    }
  }
  if (expected.out_dtype && count_out_dtype_mul(g) != *expected.out_dtype) {
    return ::testing::AssertionFailure() << "out_dtype(mul) occurs " << count_out_dtype_mul(g)
                                         << " times, expected " << *expected.out_dtype << "\n"
                                         << graph::to_string(g);
  }
  return ::testing::AssertionSuccess();
}

struct Flow {
  Graph reference;
  Graph qdq;
};

// _test_representation: export, then twice prepare → calibrate on the example
// inputs → convert (reference / Q/DQ), node checks, and the output comparison.
Flow test_representation(Module& model, const std::vector<Tensor>& example_inputs,
                         const XNNPACKQuantizer& quantizer, const Occurrences& ref_occurrence,
                         const Occurrences& non_ref_occurrence,
                         std::optional<double> fixed_output_tol = std::nullopt,
                         int output_scale_idx = 2) {
  const Graph exported = graph::export_model(model, example_inputs);

  PreparedModel prepared = prepare_pt2e(exported, quantizer);
  prepared.run(example_inputs);
  Graph reference = convert_pt2e(prepared, {.use_reference_representation = true});
  EXPECT_TRUE(has_occurrences(reference, ref_occurrence));
  const std::vector<Tensor> ref_out = graph::run_graph(reference, example_inputs);

  PreparedModel prepared_copy = prepare_pt2e(exported, quantizer);
  prepared_copy.run(example_inputs);
  Graph qdq = convert_pt2e(prepared_copy, {.use_reference_representation = false});
  EXPECT_TRUE(has_occurrences(qdq, non_ref_occurrence));
  const std::vector<Tensor> qdq_out = graph::run_graph(qdq, example_inputs);

  // The output_scale_idx-th quantize_per_tensor (attribute form, torch's
  // .default).
  std::optional<double> output_tol = fixed_output_tol;
  if (!output_tol) {
    int idx = 0;
    for (const graph::Node* n : qdq.nodes()) {
      if (n->op() == OpKind::QuantizePerTensor && n->has_attr("scale") &&
          ++idx == output_scale_idx) {
        output_tol = n->attr_float("scale");
      }
    }
  }
  EXPECT_TRUE(output_tol.has_value()) << graph::to_string(qdq);
  EXPECT_EQ(ref_out.size(), qdq_out.size());
  if (output_tol && ref_out.size() == qdq_out.size()) {
    for (std::size_t k = 0; k < ref_out.size(); ++k) {
      EXPECT_EQ(ref_out[k].dtype(), DType::Float32);
      EXPECT_EQ(ref_out[k].shape(), qdq_out[k].shape());
      if (ref_out[k].dtype() != DType::Float32 || ref_out[k].shape() != qdq_out[k].shape()) {
        continue;
      }
      float worst = 0;
      for (std::int64_t i = 0; i < ref_out[k].numel(); ++i) {
        worst =
            std::max(worst, std::fabs(qdq_out[k].data<float>()[i] - ref_out[k].data<float>()[i]));
      }
      // "make sure the result is off by one at most in the quantized integer
      // representation"
      EXPECT_LE(worst, 2 * *output_tol + 1e-5) << "output " << k;
    }
  }
  return {std::move(reference), std::move(qdq)};
}

XNNPACKQuantizer quantizer_with(const QuantizationConfig& config) {
  XNNPACKQuantizer q;
  q.set_global(config);
  return q;
}

struct LinearModel : Module {
  graph::Linear linear{5, 5};
  LinearModel() : Module("M") { register_module("linear", linear); }
  Proxy forward(const Proxy& x) override { return linear(x); }
};

struct Conv2dModel : Module {
  graph::Conv2d conv2d{3, 3, 3};
  Conv2dModel() : Module("M") { register_module("conv2d", conv2d); }
  Proxy forward(const Proxy& x) override { return conv2d(x); }
};

struct AddModel : Module {
  bool relu;
  explicit AddModel(bool with_relu) : Module("M"), relu(with_relu) {}
  std::vector<Proxy> forward_multi(const std::vector<Proxy>& in) override {
    Proxy out = in[0] + in[1];
    if (relu) out = graph::functional::relu(out);
    return {out};
  }
};

// TestHelperModules.ConvMaxPool2d: Conv2d(2, 2, 1) then MaxPool2d(1, 1).
struct ConvMaxPool2d : Module {
  graph::Conv2d conv{2, 2, 1};
  graph::MaxPool2d pool{1, 1};
  ConvMaxPool2d() : Module("ConvMaxPool2d") {
    register_module("conv", conv);
    register_module("pool", pool);
  }
  Proxy forward(const Proxy& x) override { return pool(conv(x)); }
};

TEST(PT2ERepresentation, StaticLinear) {
  LinearModel m;
  const Flow f =
      test_representation(m, {random_tensor({2, 5}, 1, -2.0f, 2.0f)},
                          quantizer_with(get_symmetric_quantization_config(false)), {}, {});
  // ours: the linear pattern fired.
  EXPECT_EQ(count_nodes(f.reference, OpKind::IntegerLinear), 1u);
  EXPECT_EQ(count_nodes(f.reference, OpKind::Linear), 0u);
}

TEST(PT2ERepresentation, DynamicLinear) {
  LinearModel m;
  const Flow f = test_representation(
      m, {random_tensor({2, 5}, 2, -2.0f, 2.0f)},
      quantizer_with(get_symmetric_quantization_config(false, false, /*is_dynamic=*/true)), {}, {},
      /*fixed_output_tol=*/1e-4);
  // ours: the dynamic linear pattern fired (choose_qparams stays, no Q/DQ op
  // left).
  EXPECT_EQ(count_nodes(f.reference, OpKind::IntegerLinear), 1u);
  EXPECT_EQ(count_nodes(f.reference, OpKind::ChooseQParams), 1u);
  EXPECT_EQ(count_nodes(f.reference, OpKind::QuantizePerTensor), 0u);
  EXPECT_EQ(count_nodes(f.reference, OpKind::DequantizePerTensor), 0u);
}

TEST(PT2ERepresentation, Conv2d) {
  Conv2dModel m;
  const Flow f =
      test_representation(m, {random_tensor({1, 3, 3, 3}, 3, -2.0f, 2.0f)},
                          quantizer_with(get_symmetric_quantization_config(false)), {}, {});
  EXPECT_EQ(count_nodes(f.reference, OpKind::IntegerConv2d), 1u);  // ours
}

TEST(PT2ERepresentation, Add) {
  AddModel m(false);
  const Flow f = test_representation(
      m, {random_tensor({1, 3, 3, 3}, 4, -2.0f, 2.0f), random_tensor({1, 3, 3, 3}, 5, -2.0f, 2.0f)},
      quantizer_with(get_symmetric_quantization_config(true)), {}, {});
  // ours: the add pattern (torch.round, no out_dtype) fired.
  EXPECT_EQ(count_nodes(f.reference, OpKind::Round),
            2u + 2u);  // 2 input quantizes + add
  EXPECT_EQ(count_out_dtype_mul(f.reference), 0u);
}

TEST(PT2ERepresentation, AddRelu) {
  AddModel m(true);
  test_representation(
      m, {random_tensor({1, 3, 3, 3}, 6, -2.0f, 2.0f), random_tensor({1, 3, 3, 3}, 7, -2.0f, 2.0f)},
      quantizer_with(get_symmetric_quantization_config(true)), {.ops = {}, .out_dtype = 2}, {});
}

TEST(PT2ERepresentation, MaxPool2d) {
  ConvMaxPool2d m;
  const Flow f =
      test_representation(m, {random_tensor({1, 2, 2, 2}, 8, -2.0f, 2.0f)},
                          quantizer_with(get_symmetric_quantization_config(true)), {}, {});
  // ours: conv (per-channel weights) and max_pool2d both became integer
  // arithmetic.
  EXPECT_EQ(count_nodes(f.reference, OpKind::IntegerConv2d), 1u);
  EXPECT_EQ(count_nodes(f.reference, OpKind::MaxPool2d), 1u);
  EXPECT_EQ(count_nodes(f.reference, OpKind::DequantizePerTensor), 0u);
  EXPECT_EQ(count_nodes(f.reference, OpKind::DequantizePerChannel), 0u);
}

TEST(PT2ERepresentation, QDQPerChannel) {
  const std::vector<Shape> shapes{{1, 5}, {1, 3, 5}, {1, 3, 3, 5}, {1, 3, 3, 3, 5}};
  std::uint32_t seed = 9;
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(shape_to_string(shape));
    LinearModel m;
    const Occurrences ref{{{OpKind::QuantizePerChannel, 0}, {OpKind::DequantizePerChannel, 0}},
                          std::nullopt};
    // quantize_per_channel is folded
    const Occurrences non_ref{{{OpKind::QuantizePerChannel, 0}, {OpKind::DequantizePerChannel, 1}},
                              std::nullopt};
    test_representation(m, {random_tensor(shape, seed++, -2.0f, 2.0f)},
                        quantizer_with(get_symmetric_quantization_config(true)), ref, non_ref,
                        std::nullopt, /*output_scale_idx=*/2);
  }
}

TEST(PT2ERepresentation, QDQ) {
  AddModel m(false);
  const Occurrences ref{{{OpKind::QuantizePerTensor, 0}, {OpKind::DequantizePerTensor, 0}},
                        std::nullopt};
  const Occurrences non_ref{{{OpKind::QuantizePerTensor, 3}, {OpKind::DequantizePerTensor, 3}},
                            std::nullopt};
  test_representation(
      m,
      {random_tensor({1, 3, 3, 3}, 13, -2.0f, 2.0f), random_tensor({1, 3, 3, 3}, 14, -2.0f, 2.0f)},
      quantizer_with(get_symmetric_quantization_config(true)), ref, non_ref);
}

}  // namespace
}  // namespace quantkit::pt2e
