// convert_pt2e: the Q/DQ form's node counts (PyTorch's expectations from
// test_representation.py / test_quantize_pt2e.py), folded weights, dequantize per consumer,
// and numerics equal to a hand computation with the observers' qparams.
#include "quantkit/pt2e/convert.h"

#include <gtest/gtest.h>

#include "pt2e/pt2e_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/printer.h"
#include "quantkit/pt2e/reference_representation.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/quant/affine.h"

namespace quantkit::pt2e {
namespace {

using graph::Conv2dOptions;
using graph::GraphBuilder;
using graph::MaxPool2dOptions;
using graph::OpKind;
using testing::randn;
using testing::run1;

XNNPACKQuantizer quantizer(bool per_channel = false, bool dynamic = false) {
  XNNPACKQuantizer q;
  q.set_global(get_symmetric_quantization_config(per_channel, false, dynamic));
  return q;
}

Graph linear_graph(Shape x_shape = {2, 5}) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, x_shape);
  b.output(b.linear(x, b.parameter("linear.weight", randn({5, 5}, 1)),
                    b.parameter("linear.bias", randn({5}, 2))));
  return std::move(b).build();
}

Graph convert_calibrated(const Graph& g, const Quantizer& q, const std::vector<Tensor>& inputs,
                         const ConvertOptions& options = {}) {
  PreparedModel m = prepare_pt2e(g, q);
  m.run(inputs);
  return convert_pt2e(m, options);
}

std::size_t count(const Graph& g, OpKind op) { return count_nodes(g, op); }

TEST(Convert, StaticLinearPerTensor) {
  const Graph q = convert_calibrated(linear_graph(), quantizer(), {randn({2, 5}, 3)});
  EXPECT_EQ(count(q, OpKind::QuantizePerTensor), 2u);    // x and the output
  EXPECT_EQ(count(q, OpKind::DequantizePerTensor), 3u);  // x, weight, output
  EXPECT_EQ(count(q, OpKind::QuantizePerChannel), 0u);
  EXPECT_EQ(count(q, OpKind::DequantizePerChannel), 0u);
  EXPECT_EQ(count(q, OpKind::Observe), 0u);
  const Node* linear = q.find_node("linear");  // the original name survives
  ASSERT_NE(linear, nullptr);
  const Node* wdq = linear->input(1)->producer();
  ASSERT_EQ(wdq->op(), OpKind::DequantizePerTensor);
  EXPECT_EQ(wdq->input(0)->kind(), graph::ValueKind::Constant);
  EXPECT_EQ(wdq->input(0)->dtype(), DType::Int8);
  EXPECT_EQ(wdq->attr_int("zero_point"), 0);  // symmetric weights
  EXPECT_EQ(wdq->attr_int("quant_min"), -127);
  EXPECT_EQ(linear->input(2)->name(), "linear.bias");  // bias stays a float parameter
  EXPECT_EQ(q.find_value("linear.weight"), nullptr);   // the float weight is gone
}

TEST(Convert, PerChannelLinearFoldsQuantize) {
  // test_qdq_per_channel's expectation, for inputs of rank 2 to 5.
  for (Shape shape : {Shape{1, 5}, Shape{1, 3, 5}, Shape{1, 3, 3, 5}, Shape{1, 3, 3, 3, 5}}) {
    const Graph q = convert_calibrated(linear_graph(shape), quantizer(true), {randn(shape, 4)});
    EXPECT_EQ(count(q, OpKind::QuantizePerChannel), 0u);
    EXPECT_EQ(count(q, OpKind::DequantizePerChannel), 1u);
    const Node* wdq = q.find_node("linear")->input(1)->producer();
    ASSERT_EQ(wdq->op(), OpKind::DequantizePerChannel);
    EXPECT_EQ(wdq->input(1)->type(), (graph::TensorType{DType::Float32, {5}}));
    EXPECT_EQ(wdq->input(2)->type(), (graph::TensorType{DType::Int64, {5}}));
    EXPECT_EQ(wdq->attr_int("axis"), 0);
    EXPECT_NO_THROW(run1(q, {randn(shape, 5)}));
  }
}

TEST(Convert, ConvPerTensorAndPerChannel) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 3, 3, 3});
  b.output(b.conv2d(x, b.parameter("conv2d.weight", randn({3, 3, 3, 3}, 6)),
                    b.parameter("conv2d.bias", randn({3}, 7))));
  const Graph g = std::move(b).build();
  const Graph pt = convert_calibrated(g, quantizer(false), {randn({1, 3, 3, 3}, 8)});
  EXPECT_EQ(count(pt, OpKind::QuantizePerTensor), 2u);
  EXPECT_EQ(count(pt, OpKind::DequantizePerTensor), 3u);
  const Graph pc = convert_calibrated(g, quantizer(true), {randn({1, 3, 3, 3}, 8)});
  EXPECT_EQ(count(pc, OpKind::QuantizePerTensor), 2u);
  EXPECT_EQ(count(pc, OpKind::DequantizePerTensor), 2u);
  EXPECT_EQ(count(pc, OpKind::QuantizePerChannel), 0u);
  EXPECT_EQ(count(pc, OpKind::DequantizePerChannel), 1u);
}

TEST(Convert, AddHasThreeQuantizeDequantizePairs) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 3, 3, 3});
  Value* y = b.input("y", DType::Float32, {1, 3, 3, 3});
  b.output(b.add(x, y));
  const Graph q = convert_calibrated(std::move(b).build(), quantizer(true),
                                     {randn({1, 3, 3, 3}, 9), randn({1, 3, 3, 3}, 10)});
  EXPECT_EQ(count(q, OpKind::QuantizePerTensor), 3u);  // test_qdq's expectation
  EXPECT_EQ(count(q, OpKind::DequantizePerTensor), 3u);
}

TEST(Convert, MaxPoolAndCatShareQParams) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 2, 2});
  Value* c = b.conv2d(x, b.parameter("conv.weight", randn({2, 2, 1, 1}, 11)));
  Value* p = b.max_pool2d(c, MaxPool2dOptions({1, 1}));
  Value* z = b.input("z", DType::Float32, {1, 2, 2, 2});
  b.output(b.cat({p, z}, 1));
  const Graph q = convert_calibrated(std::move(b).build(), quantizer(true),
                                     {randn({1, 2, 2, 2}, 12), randn({1, 2, 2, 2}, 13)});
  // max_pool2d shares the conv output's observer; cat's first input is the pool output,
  // z and cat's output share that edge: every dequantize around them has the same qparams.
  const Node* pool = q.find_node("max_pool2d");
  const Node* pool_dq = pool->input(0)->producer();
  ASSERT_EQ(pool_dq->op(), OpKind::DequantizePerTensor);
  const Node* cat = q.find_node("cat");
  for (const Value* in : cat->inputs()) {
    const Node* dq = in->producer();
    ASSERT_EQ(dq->op(), OpKind::DequantizePerTensor);
    EXPECT_EQ(dq->attr_float("scale"), pool_dq->attr_float("scale"));
    EXPECT_EQ(dq->attr_int("zero_point"), pool_dq->attr_int("zero_point"));
  }
  const Node* out_dq = q.outputs()[0]->producer();
  EXPECT_EQ(out_dq->attr_float("scale"), pool_dq->attr_float("scale"));
}

TEST(Convert, DequantizeIsDuplicatedPerConsumer) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  Value* a = b.linear(x, b.parameter("a.weight", randn({4, 4}, 14)));
  Value* c = b.linear(x, b.parameter("c.weight", randn({4, 4}, 15)));
  b.output(b.add(a, c));
  const Graph q = convert_calibrated(std::move(b).build(), quantizer(), {randn({2, 4}, 16)});
  const Node* l0 = q.find_node("linear");
  const Node* l1 = q.find_node("linear_1");
  const Node* dq0 = l0->input(0)->producer();
  const Node* dq1 = l1->input(0)->producer();
  ASSERT_EQ(dq0->op(), OpKind::DequantizePerTensor);
  ASSERT_EQ(dq1->op(), OpKind::DequantizePerTensor);
  EXPECT_NE(dq0, dq1);                      // one dequantize each
  EXPECT_EQ(dq0->input(0), dq1->input(0));  // of the same quantize
  EXPECT_EQ(q.uses(dq0->output()).size(), 1u);
}

TEST(Convert, DynamicLinear) {
  const Graph g = linear_graph();
  const Graph q = convert_calibrated(g, quantizer(false, true), {randn({2, 5}, 17)});
  EXPECT_EQ(count(q, OpKind::ChooseQParams), 1u);
  EXPECT_EQ(count(q, OpKind::QuantizePerTensor), 1u);
  EXPECT_EQ(count(q, OpKind::DequantizePerTensor), 2u);  // x (tensor overload) and weight
  const Node* xdq = q.find_node("linear")->input(0)->producer();
  ASSERT_EQ(xdq->num_inputs(), 3u);
  const Node* choose = xdq->input(1)->producer();
  ASSERT_EQ(choose->op(), OpKind::ChooseQParams);
  EXPECT_EQ(choose->attr_float("eps"), 1.0 / 4096.0);
  EXPECT_EQ(q.outputs()[0]->producer()->name(), "linear");  // output stays float
  // Run-time qparams: a wider input gets a wider scale, and the result tracks fp32.
  const Tensor x = randn({2, 5}, 18, 5.0f);
  EXPECT_GT(testing::sqnr_db(run1(g, {x}), run1(q, {x})), 25.0);
}

// The Q/DQ graph computes exactly: fq(linear(fq(x), fq(w), b)) with the observers' qparams.
TEST(Convert, NumericsEqualHandComputation) {
  const Graph g = linear_graph();
  const Tensor calib = randn({2, 5}, 19);
  PreparedModel m = prepare_pt2e(g, quantizer(true));
  m.run({calib});
  const Graph q = convert_pt2e(m);
  const Node* linear = m.graph().find_node("linear");
  auto observer_of = [&](const Value* v) -> const Observer& {
    return *m.place(v->producer()->attr_string("observer")).observer;
  };
  const QParams xq = observer_of(linear->input(0)).calculate_qparams();
  const QParams wq = observer_of(linear->input(1)).calculate_qparams();
  const QParams oq = observer_of(m.graph().outputs()[0]).calculate_qparams();
  const QuantRange act = QuantRange::of(DType::Int8, -128, 127);
  const QuantRange wr = QuantRange::of(DType::Int8, -127, 127);
  std::vector<double> wscales;
  for (double s : wq.scale) wscales.push_back(static_cast<double>(static_cast<float>(s)));

  const Tensor x = randn({2, 5}, 20, 1.5f);
  const Tensor xf = dequantize_per_tensor(
      quantize_per_tensor(x, xq.scale[0], xq.zero_point[0], act), xq.scale[0], xq.zero_point[0]);
  const Tensor w = g.find_value("linear.weight")->data();
  const Tensor wf = dequantize_per_channel(quantize_per_channel(w, wscales, wq.zero_point, 0, wr),
                                           wscales, wq.zero_point, 0);
  GraphBuilder b;
  Value* xi = b.input("x", DType::Float32, {2, 5});
  b.output(
      b.linear(xi, b.parameter("w", wf), b.parameter("b", g.find_value("linear.bias")->data())));
  const Tensor y = run1(std::move(b).build(), {xf});
  const Tensor expected = dequantize_per_tensor(
      quantize_per_tensor(y, oq.scale[0], oq.zero_point[0], act), oq.scale[0], oq.zero_point[0]);
  EXPECT_TRUE(bitwise_equal(run1(q, {x}), expected));
}

TEST(Convert, WithoutFoldingWeightsAreQuantizedInTheGraph) {
  ConvertOptions options;
  options.fold_quantize = false;
  const Graph g = linear_graph();
  const Tensor calib = randn({2, 5}, 21);
  const Graph unfolded = convert_calibrated(g, quantizer(true), {calib}, options);
  EXPECT_EQ(count(unfolded, OpKind::QuantizePerChannel), 1u);
  EXPECT_EQ(count(unfolded, OpKind::DequantizePerChannel), 1u);
  EXPECT_NE(unfolded.find_value("linear.weight"), nullptr);
  const Graph folded = convert_calibrated(g, quantizer(true), {calib});
  EXPECT_TRUE(bitwise_equal(run1(unfolded, {calib}), run1(folded, {calib})));
}

TEST(Convert, DerivedBiasIsInt32WithInputTimesWeightScale) {
  class BiasQuantizer : public Quantizer {
   public:
    Annotations annotate(const Graph& g) const override {
      const auto cfg = get_symmetric_quantization_config(true);
      const Node* n = g.find_node("linear");
      Annotations a;
      a[n].input_qspec_map[n->input(0)] = *cfg.input_activation;
      a[n].input_qspec_map[n->input(1)] = *cfg.weight;
      a[n].input_qspec_map[n->input(2)] = derived_bias_spec(n, n->input(0), n->input(1), true);
      a[n].output_qspec = *cfg.output_activation;
      return a;
    }
  };
  PreparedModel m = prepare_pt2e(linear_graph(), BiasQuantizer());
  m.run({randn({2, 5}, 22)});
  const Graph q = convert_pt2e(m);
  const Node* bdq = q.find_node("linear")->input(2)->producer();
  ASSERT_EQ(bdq->op(), OpKind::DequantizePerChannel);
  EXPECT_EQ(bdq->input(0)->dtype(), DType::Int32);
  EXPECT_EQ(bdq->attr_int("quant_min"), -2147483648LL);
  const Node* xdq = q.find_node("linear")->input(0)->producer();
  const Node* wdq = q.find_node("linear")->input(1)->producer();
  const float xs = static_cast<float>(xdq->attr_float("scale"));
  const Tensor& ws = wdq->input(1)->data();
  const Tensor& bs = bdq->input(1)->data();
  for (std::int64_t c = 0; c < 5; ++c) {
    EXPECT_EQ(bs.data<float>()[c], xs * ws.data<float>()[c]) << c;
  }
  EXPECT_EQ(count(q, OpKind::QuantizePerChannel), 0u);
}

TEST(Convert, FixedQParamsSpec) {
  // sigmoid-like outputs: a constant scale 1/256 and zero point 0 on uint8, whatever the data.
  class FixedQuantizer : public Quantizer {
   public:
    Annotations annotate(const Graph& g) const override {
      Annotations a;
      a[g.find_node("relu")].output_qspec = FixedQParamsQuantizationSpec{};
      return a;
    }
  };
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {3, 4});
  b.output(b.relu(x));
  PreparedModel m = prepare_pt2e(std::move(b).build(), FixedQuantizer());
  m.run({randn({3, 4}, 24, 100.0f)});
  const Graph q = convert_pt2e(m);
  const Node* dq = q.outputs()[0]->producer();
  ASSERT_EQ(dq->op(), OpKind::DequantizePerTensor);
  EXPECT_EQ(dq->attr_float("scale"), 1.0 / 256.0);
  EXPECT_EQ(dq->attr_int("zero_point"), 0);
  EXPECT_EQ(dq->attr_dtype("dtype"), DType::UInt8);
  EXPECT_EQ(dq->attr_int("quant_max"), 255);
}

TEST(Convert, UncalibratedWeightsAreObservedFromTheirData) {
  const PreparedModel m = prepare_pt2e(linear_graph(), quantizer(true));
  const Graph q = convert_pt2e(m);  // no calibration run
  const Node* wdq = q.find_node("linear")->input(1)->producer();
  const Tensor w = linear_graph().find_value("linear.weight")->data();
  const Tensor wf = graph::evaluate_node(
      *wdq,
      std::vector<Tensor>{wdq->input(0)->data(), wdq->input(1)->data(), wdq->input(2)->data()})[0];
  const Tensor& scales = wdq->input(1)->data();
  for (std::int64_t i = 0; i < w.numel(); ++i) {
    EXPECT_LE(std::fabs(wf.data<float>()[i] - w.data<float>()[i]),
              0.5f * scales.data<float>()[i / 5] * 1.0001f);
  }
}

TEST(Convert, ReferenceRepresentationOption) {
  const Graph g = linear_graph();
  const Tensor calib = randn({2, 5}, 23);
  PreparedModel m = prepare_pt2e(g, quantizer());
  m.run({calib});
  ConvertOptions options;
  options.use_reference_representation = true;
  EXPECT_EQ(graph::to_string(convert_pt2e(m, options)),
            graph::to_string(to_reference_representation(convert_pt2e(m))));
}

}  // namespace
}  // namespace quantkit::pt2e
