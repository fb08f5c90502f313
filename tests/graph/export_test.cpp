// Module API and export_model: traced graphs, names and sources, parameter handling, the
// builder/export equivalence, the seed test's models, and a small CNN end to end.
#include "quantkit/graph/export.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "graph_test_util.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/functional.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/nn.h"
#include "quantkit/graph/printer.h"
#include "quantkit/graph/verifier.h"
#include "reference_loops.h"

namespace quantkit::graph {
namespace {

using testing::all_close;
using ::testing::HasSubstr;
using testing::random_tensor;

namespace F = functional;

std::vector<OpKind> ops_of(const Graph& g) {
  std::vector<OpKind> out;
  for (const Node* n : g.nodes()) out.push_back(n->op());
  return out;
}

// conv-bn-relu, maxpool, flatten, linear: the small CNN.
struct SmallCnn : Module {
  Sequential features;
  Flatten flatten;
  Linear fc{4 * 3 * 3, 5};
  SmallCnn() : Module("SmallCnn") {
    features.emplace<Conv2d>(2, 4, 3, Conv2dOptions({1, 1}, {1, 1}));
    features.emplace<BatchNorm2d>(4);
    features.emplace<ReLU>();
    features.emplace<MaxPool2d>(2);
    register_module("features", features);
    register_module("flatten", flatten);
    register_module("fc", fc);
  }
  Proxy forward(const Proxy& x) override { return fc(flatten(features(x))); }
};

TEST(Export, SmallCnnGraphStructureNamesAndSources) {
  SmallCnn net;
  net.reset_parameters(7);
  Graph g = export_model(net, {Tensor::zeros({1, 2, 6, 6}, DType::Float32)});
  verify(g);
  EXPECT_EQ(ops_of(g), (std::vector<OpKind>{OpKind::Conv2d, OpKind::BatchNorm, OpKind::Relu,
                                            OpKind::MaxPool2d, OpKind::Flatten, OpKind::Linear}));
  ASSERT_EQ(g.inputs().size(), 1u);
  EXPECT_EQ(g.inputs()[0]->name(), "x");
  std::vector<std::string> params;
  for (const Value* p : g.parameters()) params.push_back(p->name());
  EXPECT_EQ(params,
            (std::vector<std::string>{"features.0.weight", "features.0.bias", "features.1.weight",
                                      "features.1.bias", "features.1.running_mean",
                                      "features.1.running_var", "fc.weight", "fc.bias"}));
  EXPECT_EQ(g.find_node("conv2d")->source(), (SourceInfo{"features.0", "Conv2d"}));
  EXPECT_EQ(g.find_node("relu")->source(), (SourceInfo{"features.2", "ReLU"}));
  EXPECT_EQ(g.find_node("flatten")->source(), (SourceInfo{"flatten", "Flatten"}));
  EXPECT_EQ(g.find_node("flatten")->attr_int("start_dim"), 1);
  EXPECT_EQ(g.find_node("linear")->source(), (SourceInfo{"fc", "Linear"}));
  EXPECT_EQ(g.outputs()[0]->type(), (TensorType{DType::Float32, {1, 5}}));
  EXPECT_THAT(to_string(g), HasSubstr("= max_pool2d(%relu, ceil_mode=0, dilation=[1, 1], "
                                      "kernel_size=[2, 2], padding=[0, 0], stride=[2, 2])  # "
                                      "features.3 (MaxPool2d)"));
}

TEST(Export, BuilderAndModuleGiveTheSameGraph) {
  SmallCnn net;
  net.reset_parameters(3);
  const Graph traced = export_model(net, {Tensor::zeros({2, 2, 6, 6}, DType::Float32)});

  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 2, 6, 6});
  auto param = [&](const std::string& name) {
    return b.parameter(name, net.parameter(name).clone());
  };
  b.set_source({"features.0", "Conv2d"});
  Value* w = param("features.0.weight");
  Value* bias = param("features.0.bias");
  Value* y = b.conv2d(x, w, bias, Conv2dOptions({1, 1}, {1, 1}));
  b.set_source({"features.1", "BatchNorm2d"});
  Value* bw = param("features.1.weight");
  Value* bb = param("features.1.bias");
  Value* bm = param("features.1.running_mean");
  Value* bv = param("features.1.running_var");
  y = b.batch_norm(y, bw, bb, bm, bv, 1e-5);
  b.set_source({"features.2", "ReLU"});
  y = b.relu(y);
  b.set_source({"features.3", "MaxPool2d"});
  y = b.max_pool2d(y, MaxPool2dOptions({2, 2}, {2, 2}));
  b.set_source({"flatten", "Flatten"});
  y = b.flatten(y, 1);
  b.set_source({"fc", "Linear"});
  Value* fw = param("fc.weight");
  Value* fb = param("fc.bias");
  b.output(b.linear(y, fw, fb));
  const Graph built = std::move(b).build();

  EXPECT_EQ(to_string(built), to_string(traced));
  ASSERT_EQ(built.parameters().size(), traced.parameters().size());
  for (std::size_t i = 0; i < built.parameters().size(); ++i) {
    EXPECT_TRUE(bitwise_equal(built.parameters()[i]->data(), traced.parameters()[i]->data()));
  }
  const Tensor in = random_tensor({2, 2, 6, 6}, 9);
  EXPECT_TRUE(testing::identical(run_graph(built, {in})[0], run_graph(traced, {in})[0]));
}

TEST(Export, SmallCnnEndToEndMatchesLoopReferences) {
  SmallCnn net;
  net.reset_parameters(11);
  // Non-trivial batch-norm statistics.
  net.set_parameter("features.1.weight", random_tensor({4}, 1, 0.5f, 1.5f));
  net.set_parameter("features.1.bias", random_tensor({4}, 2));
  net.set_parameter("features.1.running_mean", random_tensor({4}, 3));
  net.set_parameter("features.1.running_var", random_tensor({4}, 4, 0.2f, 2.0f));
  const Graph g = export_model(net, {Tensor::zeros({3, 2, 6, 6}, DType::Float32)});
  const Tensor x = random_tensor({3, 2, 6, 6}, 5);
  const Tensor y = run_graph(g, {x})[0];

  const Tensor& cw = net.parameter("features.0.weight");
  const Tensor& cb = net.parameter("features.0.bias");
  Tensor t = testing::conv_reference(x, cw, &cb, Conv2dOptions({1, 1}, {1, 1}));
  const float* gamma = net.parameter("features.1.weight").data<float>();
  const float* beta = net.parameter("features.1.bias").data<float>();
  const float* mean = net.parameter("features.1.running_mean").data<float>();
  const float* var = net.parameter("features.1.running_var").data<float>();
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    const std::int64_t c = (i / 36) % 4;
    float& v = t.data<float>()[i];
    v = static_cast<float>((v - mean[c]) / std::sqrt(double{var[c]} + 1e-5) * gamma[c] + beta[c]);
    v = std::max(v, 0.0f);
  }
  t = testing::max_pool_reference(t, MaxPool2dOptions({2, 2}, {2, 2}), 3, 3).reshape({3, 36});
  const Tensor& fb = net.parameter("fc.bias");
  const Tensor expected = testing::linear_reference(t, net.parameter("fc.weight"), &fb);
  EXPECT_TRUE(all_close(y, expected, 1e-5f, 1e-4f));
}

// torch's test_representation models.
struct LinearModel : Module {
  Linear linear{5, 5};
  LinearModel() : Module("M") { register_module("linear", linear); }
  Proxy forward(const Proxy& x) override { return linear(x); }
};

struct AddModel : Module {
  bool with_relu;
  explicit AddModel(bool relu) : Module("M"), with_relu(relu) {}
  std::vector<Proxy> forward_multi(const std::vector<Proxy>& in) override {
    Proxy out = in[0] + in[1];
    return {with_relu ? F::relu(out) : out};
  }
};

struct ConvMaxPool2d : Module {
  Conv2d conv{2, 2, 1};
  MaxPool2d pool{1, 1};
  ConvMaxPool2d() : Module("ConvMaxPool2d") {
    register_module("conv", conv);
    register_module("pool", pool);
  }
  Proxy forward(const Proxy& x) override { return pool(conv(x)); }
};

TEST(Export, SeedModelsExportAndRun) {
  LinearModel linear;
  for (const Shape& s : {Shape{2, 5}, Shape{1, 3, 5}, Shape{1, 3, 3, 5}, Shape{1, 3, 3, 3, 5}}) {
    const Graph g = export_model(linear, {Tensor::zeros(s, DType::Float32)});
    EXPECT_EQ(count_nodes(g, OpKind::Linear), 1u);
    Shape out = s;
    EXPECT_EQ(run_graph(g, {random_tensor(s, 1)})[0].shape(), out);
  }

  AddModel add(false), add_relu(true);
  const Tensor a = random_tensor({1, 3, 3, 3}, 2), b = random_tensor({1, 3, 3, 3}, 3);
  const Graph ga = export_model(add, {a, b});
  EXPECT_EQ(ga.inputs()[0]->name(), "x0");
  EXPECT_EQ(ga.inputs()[1]->name(), "x1");
  EXPECT_EQ(ops_of(ga), (std::vector<OpKind>{OpKind::Add}));
  EXPECT_EQ(ga.find_node("add")->source(), (SourceInfo{"", "M"}));
  const Graph gr = export_model(add_relu, {a, b}, {.input_names = {"x", "y"}});
  EXPECT_EQ(ops_of(gr), (std::vector<OpKind>{OpKind::Add, OpKind::Relu}));
  EXPECT_EQ(gr.inputs()[1]->name(), "y");
  const Tensor r = run_graph(gr, {a, b})[0];
  for (std::int64_t i = 0; i < r.numel(); ++i) {
    EXPECT_EQ(r.data<float>()[i], std::max(a.data<float>()[i] + b.data<float>()[i], 0.0f));
  }

  ConvMaxPool2d cm;
  const Graph gc = export_model(cm, {Tensor::zeros({1, 2, 2, 2}, DType::Float32)});
  EXPECT_EQ(ops_of(gc), (std::vector<OpKind>{OpKind::Conv2d, OpKind::MaxPool2d}));
  EXPECT_EQ(run_graph(gc, {random_tensor({1, 2, 2, 2}, 4)})[0].shape(), (Shape{1, 2, 2, 2}));
}

TEST(Export, FunctionalOpsInsideCustomForward) {
  struct Branches : Module {
    Conv2d a{3, 2, 1}, b{3, 2, 1};
    AdaptiveAvgPool2d pool{1};
    Branches() : Module("Branches") {
      register_module("a", a);
      register_module("b", b);
      register_module("pool", pool);
    }
    Proxy forward(const Proxy& x) override {
      Proxy y = F::cat({a(x), F::relu(b(x))}, 1);
      y = F::mul(F::add(y, 1.0), 0.5);
      return F::softmax(F::flatten(pool(y), 1), -1);
    }
  } m;
  const Graph g = export_model(m, {Tensor::zeros({2, 3, 4, 4}, DType::Float32)});
  EXPECT_EQ(ops_of(g),
            (std::vector<OpKind>{OpKind::Conv2d, OpKind::Conv2d, OpKind::Relu, OpKind::Cat,
                                 OpKind::Add, OpKind::Mul, OpKind::AdaptiveAvgPool2d,
                                 OpKind::Flatten, OpKind::Softmax}));
  EXPECT_EQ(g.constants().size(), 2u);  // the scalars 1.0 and 0.5
  EXPECT_EQ(g.find_node("cat")->source(), (SourceInfo{"", "Branches"}));
  EXPECT_EQ(g.find_node("conv2d_1")->source(), (SourceInfo{"b", "Conv2d"}));
  const Tensor y = run_graph(g, {random_tensor({2, 3, 4, 4}, 5)})[0];
  ASSERT_EQ(y.shape(), (Shape{2, 4}));
  for (std::int64_t r = 0; r < 2; ++r) {
    float sum = 0;
    for (std::int64_t c = 0; c < 4; ++c) sum += y.data<float>()[r * 4 + c];
    EXPECT_NEAR(sum, 1.0f, 1e-6f);
  }
}

TEST(Export, IntegerScalarsMustBeRepresentable) {
  struct Scale : Module {
    double factor;
    explicit Scale(double f) : Module("Scale"), factor(f) {}
    Proxy forward(const Proxy& x) override { return F::mul(x, factor); }
  };
  Scale ok(3), fractional(0.5), too_big(1000);
  const Tensor x = Tensor::zeros({2}, DType::Int8);
  const Graph g = export_model(ok, {x});
  EXPECT_EQ(g.constants()[0]->dtype(), DType::Int8);
  EXPECT_THROW(export_model(fractional, {x}), Error);
  EXPECT_THROW(export_model(too_big, {x}), Error);
}

TEST(Export, SharedModuleCalledTwiceSharesParameters) {
  struct Twice : Module {
    Linear fc{4, 4};
    Twice() : Module("Twice") { register_module("fc", fc); }
    Proxy forward(const Proxy& x) override { return fc(F::relu(fc(x))); }
  } m;
  const Graph g = export_model(m, {Tensor::zeros({1, 4}, DType::Float32)});
  EXPECT_EQ(count_nodes(g, OpKind::Linear), 2u);
  EXPECT_EQ(g.parameters().size(), 2u);
  EXPECT_EQ(g.find_node("linear")->input(1), g.find_node("linear_1")->input(1));
}

TEST(Export, ParametersAreSnapshots) {
  LinearModel m;
  const Graph g = export_model(m, {Tensor::zeros({1, 5}, DType::Float32)});
  const Tensor before = g.find_value("linear.weight")->data().clone();
  m.set_parameter("linear.weight", Tensor::zeros({5, 5}, DType::Float32));
  EXPECT_TRUE(bitwise_equal(g.find_value("linear.weight")->data(), before));
}

TEST(Export, UnusedParametersAndDeadCodeAreDropped) {
  struct Partial : Module {
    Linear used{3, 3}, unused{3, 3};
    Partial() : Module("Partial") {
      register_module("used", used);
      register_module("unused", unused);
    }
    Proxy forward(const Proxy& x) override {
      F::relu(x);  // result ignored
      return used(x);
    }
  } m;
  const Graph g = export_model(m, {Tensor::zeros({1, 3}, DType::Float32)});
  EXPECT_EQ(ops_of(g), (std::vector<OpKind>{OpKind::Linear}));
  EXPECT_EQ(g.parameters().size(), 2u);
}

TEST(Export, Errors) {
  struct Stray : Module {
    Stray() : Module("Stray") {}
    Proxy forward(const Proxy& x) override {
      ReLU unregistered;
      return unregistered(x);
    }
  } stray;
  try {
    export_model(stray, {Tensor::zeros({2}, DType::Float32)});
    FAIL();
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("module of type 'ReLU'"));
    EXPECT_THAT(e.what(), HasSubstr("not registered"));
  }
  struct Empty : Module {
    Empty() : Module("Empty") {}
  } empty;
  EXPECT_THROW(export_model(empty, {Tensor::zeros({2}, DType::Float32)}), Error);
  LinearModel m;
  EXPECT_THROW(export_model(m, {Tensor::zeros({2, 4}, DType::Float32)}), Error);  // wrong features
  EXPECT_THROW(export_model(m, std::span<const Tensor>{}), Error);
  EXPECT_THROW(
      export_model(m, {Tensor::zeros({2, 5}, DType::Float32)}, {.input_names = {"a", "b"}}), Error);
}

TEST(Module, RegistrationRules) {
  struct Holder : Module {
    Linear a{2, 2}, b{2, 2};
    Tensor t = Tensor::zeros({1}, DType::Float32);
    Holder() : Module("Holder") { register_module("a", a); }
  } h;
  EXPECT_THROW(h.register_module("a", h.b), Error);
  EXPECT_THROW(h.register_module("x.y", h.b), Error);
  EXPECT_THROW(h.register_module("", h.b), Error);
  EXPECT_THROW(h.register_parameter("a", h.t), Error);
  EXPECT_THROW(h.register_module("self", h), Error);
  EXPECT_THROW((void)h.parameter("a.nope"), Error);
  EXPECT_THROW(h.set_parameter("a.weight", Tensor::zeros({3, 2}, DType::Float32)), Error);
  std::vector<std::string> names;
  for (auto& [name, m] : h.named_modules()) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"", "a"}));
  Sequential s;
  EXPECT_THROW(s.push_back(nullptr), Error);
  EXPECT_THROW((void)s[0], Error);
}

TEST(Module, DefaultInitIsTorchLikeAndSeedable) {
  Conv2d conv(4, 6, 3, Conv2dOptions({1, 1}, {0, 0}, {1, 1}, 2));
  const float bound = 1.0f / std::sqrt(2.0f * 9.0f);  // fan_in = in / groups * kh * kw
  for (float v : conv.weight.span<float>()) {
    EXPECT_GE(v, -bound);
    EXPECT_LT(v, bound);
  }
  for (float v : conv.bias.span<float>()) EXPECT_LT(std::fabs(v), bound);
  BatchNorm2d bn(3);
  EXPECT_EQ(bn.running_var.to_vector<float>(), (std::vector<float>{1, 1, 1}));
  EXPECT_EQ(bn.weight.to_vector<float>(), (std::vector<float>{1, 1, 1}));

  SmallCnn a, b;
  EXPECT_TRUE(bitwise_equal(a.fc.weight, b.fc.weight));  // same default seed
  a.reset_parameters(5);
  b.reset_parameters(5);
  EXPECT_TRUE(bitwise_equal(a.fc.weight, b.fc.weight));
  EXPECT_TRUE(bitwise_equal(a.parameter("features.0.weight"), b.parameter("features.0.weight")));
  b.reset_parameters(6);
  EXPECT_FALSE(bitwise_equal(a.fc.weight, b.fc.weight));
  // One stream across modules: layers of equal shape get different weights.
  struct TwoLinear : Module {
    Linear p{3, 3}, q{3, 3};
    TwoLinear() : Module("TwoLinear") {
      register_module("p", p);
      register_module("q", q);
    }
  } two;
  EXPECT_TRUE(bitwise_equal(two.p.weight, two.q.weight));
  two.reset_parameters(1);
  EXPECT_FALSE(bitwise_equal(two.p.weight, two.q.weight));
}

TEST(Module, ConstructorsValidate) {
  EXPECT_THROW(Linear(3, 0), Error);
  EXPECT_THROW(Conv2d(3, 4, 3, Conv2dOptions({1, 1}, {0, 0}, {1, 1}, 2)), Error);  // 3 % 2
  EXPECT_THROW(Conv2d(2, 2, 0), Error);
  EXPECT_THROW(BatchNorm2d(0), Error);
}

}  // namespace
}  // namespace quantkit::graph
