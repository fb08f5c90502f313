// prepare_pt2e: observer placement and sharing (one observer per shared group), calibration,
// idempotence on unannotated graphs, batch-norm folding, and annotation validation.
#include "quantkit/pt2e/prepare.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "pt2e/pt2e_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/nn.h"
#include "quantkit/graph/printer.h"
#include "quantkit/pt2e/fold_batch_norm.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"

namespace quantkit::pt2e {
namespace {

using graph::Conv2dOptions;
using graph::GraphBuilder;
using graph::MaxPool2dOptions;
using graph::OpKind;
using ::testing::HasSubstr;
using testing::randn;

XNNPACKQuantizer static_quantizer(bool per_channel = false) {
  XNNPACKQuantizer q;
  q.set_global(get_symmetric_quantization_config(per_channel));
  return q;
}

// A quantizer written inline, for annotations XNNPACK would not produce.
class LambdaQuantizer : public Quantizer {
 public:
  explicit LambdaQuantizer(std::function<Annotations(const Graph&)> fn) : fn_(std::move(fn)) {}
  Annotations annotate(const Graph& g) const override { return fn_(g); }

 private:
  std::function<Annotations(const Graph&)> fn_;
};

Graph linear_graph() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 5});
  b.output(b.linear(x, b.parameter("linear.weight", randn({5, 5}, 1)),
                    b.parameter("linear.bias", randn({5}, 2))));
  return std::move(b).build();
}

Graph add_graph() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 3, 3, 3});
  Value* y = b.input("y", DType::Float32, {1, 3, 3, 3});
  b.output(b.add(x, y));
  return std::move(b).build();
}

TEST(Prepare, LinearObservesInputWeightAndOutput) {
  const PreparedModel m = prepare_pt2e(linear_graph(), static_quantizer());
  EXPECT_EQ(m.places().size(), 3u);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Observe), 3u);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::FakeQuantize), 0u);
  EXPECT_FALSE(m.is_qat());
  // The linear reads observed x and weight; its output goes through an observer.
  const Node* linear = m.graph().find_node("linear");
  ASSERT_NE(linear, nullptr);
  EXPECT_EQ(linear->input(0)->producer()->op(), OpKind::Observe);
  EXPECT_EQ(linear->input(1)->producer()->op(), OpKind::Observe);
  EXPECT_EQ(linear->input(2)->name(), "linear.bias");  // bias stays float
  EXPECT_EQ(m.graph().outputs()[0]->producer()->op(), OpKind::Observe);
  for (const auto& [name, place] : m.places()) {
    EXPECT_NE(place.observer, nullptr) << name;
    EXPECT_EQ(place.fake_quant, nullptr) << name;
  }
  EXPECT_EQ(m.annotated_nodes(), std::set<std::string>{"linear"});
}

TEST(Prepare, AddHasThreeObservers) {
  const PreparedModel m = prepare_pt2e(add_graph(), static_quantizer(true));
  EXPECT_EQ(m.places().size(), 3u);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Observe), 3u);
}

TEST(Prepare, ImplicitSharingBetweenProducerOutputAndConsumerInput) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 4});
  Value* h = b.linear(x, b.parameter("a.weight", randn({4, 4}, 3)));
  b.output(b.linear(h, b.parameter("b.weight", randn({4, 4}, 4))));
  const PreparedModel m = prepare_pt2e(std::move(b).build(), static_quantizer());
  // x, a.weight, h (output of linear = input of linear_1), b.weight, output.
  EXPECT_EQ(m.places().size(), 5u);
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Observe), 5u);
  // linear_1 reads the observer of linear's output directly (no second observer).
  const Node* obs = m.graph().find_node("linear_1")->input(0)->producer();
  ASSERT_EQ(obs->op(), OpKind::Observe);
  EXPECT_EQ(obs->input(0)->producer()->name(), "linear");
}

TEST(Prepare, PoolFlattenAndCatShareOneObserver) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 4, 4});
  Value* c = b.conv2d(x, b.parameter("conv.weight", randn({2, 2, 1, 1}, 5)));
  Value* p = b.max_pool2d(c, MaxPool2dOptions({2, 2}));
  b.output(b.flatten(p, 1));
  const PreparedModel m = prepare_pt2e(std::move(b).build(), static_quantizer());
  // Places: x, conv.weight, and one group for conv output / pool / flatten.
  EXPECT_EQ(m.places().size(), 3u);
  // Nodes: x, weight, conv output, pool output, flatten output (one observer instance is
  // called at three spots, as in PyTorch).
  EXPECT_EQ(count_nodes(m.graph(), OpKind::Observe), 5u);
  const std::string conv_place =
      m.graph().find_node("max_pool2d")->input(0)->producer()->attr_string("observer");
  EXPECT_EQ(m.graph().outputs()[0]->producer()->attr_string("observer"), conv_place);

  GraphBuilder cb;
  Value* a = cb.input("a", DType::Float32, {1, 2});
  Value* d = cb.input("d", DType::Float32, {1, 3});
  cb.output(cb.cat({a, d}, 1));
  const PreparedModel cm = prepare_pt2e(std::move(cb).build(), static_quantizer());
  EXPECT_EQ(cm.places().size(), 1u);  // both inputs and the output
  EXPECT_EQ(count_nodes(cm.graph(), OpKind::Observe), 3u);
}

TEST(Prepare, CalibrationFeedsObservers) {
  PreparedModel m = prepare_pt2e(linear_graph(), static_quantizer());
  const Tensor x = randn({2, 5}, 42);
  const std::vector<Tensor> out = m({x});
  // Observers are identities: the prepared model computes the fp32 function.
  EXPECT_TRUE(bitwise_equal(out[0], testing::run1(linear_graph(), {x})));
  const Node* linear = m.graph().find_node("linear");
  const std::string x_place = linear->input(0)->producer()->attr_string("observer");
  const Observer& obs = *m.place(x_place).observer;
  float lo = x.data<float>()[0], hi = lo;
  for (float v : x.span<float>()) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_EQ(obs.min_val()[0], lo);
  EXPECT_EQ(obs.max_val()[0], hi);
  // A second batch widens the range.
  const Tensor big = randn({2, 5}, 43, 10.0f);
  std::vector<std::vector<Tensor>> batches{{big}};
  calibrate(m, batches);
  EXPECT_LT(obs.min_val()[0], lo);
  EXPECT_GT(obs.max_val()[0], hi);
  EXPECT_THROW(m.place("no_such_place"), Error);
}

TEST(Prepare, UnannotatedGraphIsUnchanged) {
  const Graph g = linear_graph();
  const PreparedModel m = prepare_pt2e(g, XNNPACKQuantizer());
  EXPECT_TRUE(m.places().empty());
  EXPECT_EQ(graph::to_string(m.graph()), graph::to_string(g));
  for (const Value* p : g.parameters()) {
    EXPECT_TRUE(bitwise_equal(m.graph().find_value(p->name())->data(), p->data()));
  }
  // Preparing that result again is still a no-op.
  const PreparedModel again = prepare_pt2e(m.graph(), XNNPACKQuantizer());
  EXPECT_EQ(graph::to_string(again.graph()), graph::to_string(g));
}

TEST(Prepare, PreparingAPreparedGraphFails) {
  const PreparedModel m = prepare_pt2e(linear_graph(), static_quantizer());
  try {
    prepare_pt2e(m.graph(), static_quantizer());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("already prepared"));
  }
  EXPECT_THROW(prepare_qat_pt2e(m.graph(), static_quantizer()), Error);
}

TEST(Prepare, InputGraphIsNotModified) {
  const Graph g = linear_graph();
  const std::string before = graph::to_string(g);
  (void)prepare_pt2e(g, static_quantizer());
  EXPECT_EQ(graph::to_string(g), before);
}

TEST(Prepare, RejectsBadAnnotations) {
  const Graph g = linear_graph();
  const QuantizationSpec act = *get_symmetric_quantization_config().input_activation;
  auto expect_error = [&](std::function<Annotations(const Graph&)> fn, const char* text) {
    try {
      prepare_pt2e(g, LambdaQuantizer(std::move(fn)));
      ADD_FAILURE() << "expected an Error mentioning " << text;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(text));
    }
  };
  // A value that is not an input of the annotated node.
  expect_error(
      [&](const Graph& pg) {
        Annotations a;
        a[pg.find_node("linear")].input_qspec_map[pg.find_node("linear")->output()] = act;
        return a;
      },
      "not an input of that node");
  // Sharing with an edge nobody annotated.
  expect_error(
      [&](const Graph& pg) {
        const Node* n = pg.find_node("linear");
        Annotations a;
        a[n].input_qspec_map[n->input(0)] = SharedQuantizationSpec{Edge{n->input(1), n}};
        return a;
      },
      "has no annotation");
  // APoT on an activation.
  expect_error(
      [&](const Graph& pg) {
        const Node* n = pg.find_node("linear");
        QuantizationSpec s;
        s.apot = ApotSpec{4, 2, true};
        Annotations a;
        a[n].input_qspec_map[n->input(0)] = s;
        return a;
      },
      "weights only");
  // Annotations of another graph's node.
  const Graph other = linear_graph();
  expect_error(
      [&](const Graph&) {
        Annotations a;
        a[other.find_node("linear")].output_qspec = act;
        return a;
      },
      "not in the graph");
}

TEST(Prepare, DerivedBiasSpecReadsInputAndWeightPlaces) {
  const auto cfg = get_symmetric_quantization_config();
  LambdaQuantizer q([&](const Graph& pg) {
    const Node* n = pg.find_node("linear");
    Annotations a;
    QuantizationAnnotation& ann = a[n];
    ann.input_qspec_map[n->input(0)] = *cfg.input_activation;
    ann.input_qspec_map[n->input(1)] = *cfg.weight;
    ann.input_qspec_map[n->input(2)] = derived_bias_spec(n, n->input(0), n->input(1), false);
    ann.output_qspec = *cfg.output_activation;
    return a;
  });
  const PreparedModel m = prepare_pt2e(linear_graph(), q);
  EXPECT_EQ(m.places().size(), 4u);
  int derived = 0;
  for (const auto& [name, place] : m.places()) {
    if (!std::holds_alternative<DerivedQuantizationSpec>(place.spec)) continue;
    ++derived;
    ASSERT_EQ(place.derived_from.size(), 2u);
    const Node* linear = m.graph().find_node("linear");
    EXPECT_EQ(place.derived_from[0], linear->input(0)->producer()->attr_string("observer"));
    EXPECT_EQ(place.derived_from[1], linear->input(1)->producer()->attr_string("observer"));
  }
  EXPECT_EQ(derived, 1);
}

// conv2d -> batch_norm -> relu traced from modules.
struct ConvBnRelu : graph::Module {
  graph::Conv2d conv{3, 4, 3, Conv2dOptions({1, 1}, {1, 1}), /*bias=*/false};
  graph::BatchNorm2d bn{4};
  graph::ReLU relu;
  ConvBnRelu() : Module("ConvBnRelu") {
    register_module("conv", conv);
    register_module("bn", bn);
    register_module("relu", relu);
    bn.weight = randn({4}, 20);
    bn.bias = randn({4}, 21);
    bn.running_mean = randn({4}, 22);
    bn.running_var = Tensor::from_vector<float>({0.5f, 1.0f, 2.0f, 4.0f});
  }
  graph::Proxy forward(const graph::Proxy& x) override { return relu(bn(conv(x))); }
};

TEST(FoldBatchNorm, FoldsIntoConvKeepingNameAndFunction) {
  ConvBnRelu model;
  const Graph g = graph::export_model(model, {Tensor::zeros({1, 3, 5, 5}, DType::Float32)});
  Graph folded = g.clone();
  EXPECT_EQ(fold_batch_norm(folded), 1u);
  EXPECT_EQ(count_nodes(folded, OpKind::BatchNorm), 0u);
  const Node* conv = folded.find_node("conv2d");
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->source().module_path, "conv");
  ASSERT_EQ(conv->num_inputs(), 3u);
  EXPECT_EQ(conv->input(2)->name(), "conv.bias");
  EXPECT_EQ(folded.find_value("bn.running_mean"), nullptr);  // unused BN tensors removed
  const Tensor x = randn({1, 3, 5, 5}, 23);
  const Tensor ref = testing::run1(g, {x});
  const Tensor got = testing::run1(folded, {x});
  for (std::int64_t i = 0; i < ref.numel(); ++i) {
    EXPECT_NEAR(got.data<float>()[i], ref.data<float>()[i], 1e-5f) << i;
  }
  // Folding again finds nothing; prepare folds on its copy (no batch_norm, no observer on it).
  EXPECT_EQ(fold_batch_norm(folded), 0u);
  const PreparedModel m = prepare_pt2e(g, static_quantizer());
  EXPECT_EQ(count_nodes(m.graph(), OpKind::BatchNorm), 0u);
  EXPECT_EQ(count_nodes(g, OpKind::BatchNorm), 1u);
}

TEST(FoldBatchNorm, LeavesSharedConvOutputsAlone) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 3, 3});
  Value* c = b.conv2d(x, b.parameter("w", randn({2, 2, 1, 1}, 30)));
  Value* bn = b.batch_norm(c, b.parameter("g", randn({2}, 31)), b.parameter("b", randn({2}, 32)),
                           b.parameter("m", randn({2}, 33)),
                           b.parameter("v", Tensor::from_vector<float>({1, 2})));
  b.output(bn);
  b.output(c);  // the conv output is also a graph output: folding would change it
  Graph g = std::move(b).build();
  EXPECT_EQ(fold_batch_norm(g), 0u);
  EXPECT_EQ(count_nodes(g, OpKind::BatchNorm), 1u);
}

}  // namespace
}  // namespace quantkit::pt2e
