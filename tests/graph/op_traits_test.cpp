// OpTraits, the properties passes read from the schema instead of keeping their own lists:
// each flag is checked against what the op's reference kernel actually does, so a wrong or
// missing flag fails here, not as a subtle miscompilation in a pass.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "graph_test_util.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/op.h"
#include "quantkit/quant/affine.h"

namespace quantkit::graph {
namespace {

using testing::identical;
using testing::random_ints;

std::set<OpKind> ops_where(const std::function<bool(const OpTraits&)>& pred) {
  std::set<OpKind> out;
  for (OpKind op : all_ops()) {
    if (pred(op_schema(op).traits)) out.insert(op);
  }
  return out;
}

// View ops' kernels may hand back the input's storage; the interpreter must copy such
// outputs, so a kernel that returns a view with is_view unset would leak the caller's memory.
TEST(OpTraits, ViewKernelsReturnTheInputStorageAndTheInterpreterCopiesThem) {
  const Tensor x = testing::random_tensor({2, 3, 4}, 1);
  GraphBuilder b;
  Value* in = b.input("x", DType::Float32, {2, 3, 4});
  b.output(b.reshape(in, {6, 4}));
  b.output(b.flatten(in));
  b.output(b.node(OpKind::Observe, {in},
                  [] {
                    AttributeMap a;
                    a.emplace("observer", std::string("obs"));
                    return a;
                  }())
               ->output());
  const Graph g = std::move(b).build();
  for (const Node* n : g.nodes()) {
    const Tensor out = evaluate_node(*n, std::span<const Tensor>(&x, 1))[0];
    EXPECT_EQ(out.raw_data(), x.raw_data()) << n->name() << " evaluates to a view";
    EXPECT_TRUE(op_schema(n->op()).traits.is_view) << n->name();
  }
  const std::vector<Tensor> outs = run_graph(g, {x});
  ASSERT_EQ(outs.size(), 3u);
  for (const Tensor& out : outs) {
    EXPECT_NE(out.raw_data(), x.raw_data()) << "an output shares the caller's input";
    EXPECT_TRUE(identical(out.reshape(x.shape()), x));
  }
  EXPECT_EQ(
      ops_where([](const OpTraits& t) { return t.is_view; }),
      (std::set<OpKind>{OpKind::Flatten, OpKind::Reshape, OpKind::Observe, OpKind::FakeQuantize}));
}

AttributeMap resize_attrs(const std::string& mode) {
  return {{"mode", mode},
          {"coordinate_transformation_mode", std::string("half_pixel")},
          {"nearest_mode", std::string("round_prefer_floor")},
          {"scales", std::vector<double>{1.5, 0.5}},
          {"output_size", std::vector<std::int64_t>{6, 3}}};
}

// resize moves elements in mode nearest and mixes them in mode linear: the traits hold for
// the first only, and passes ask per node.
TEST(OpTraits, ResizeTraitsHoldForNearestOnly) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 4, 6});
  const Node* nearest = b.node(OpKind::Resize, {x}, resize_attrs("nearest"));
  const Node* linear = b.node(OpKind::Resize, {x}, resize_attrs("linear"));
  EXPECT_TRUE(is_value_preserving(*nearest));
  EXPECT_TRUE(shares_observer(*nearest));
  EXPECT_FALSE(is_value_preserving(*linear));
  EXPECT_FALSE(shares_observer(*linear));
  const Node* relu = b.node(OpKind::Relu, {x}, {});
  const Node* pool = b.node(OpKind::MaxPool2d, {x}, {{"kernel_size", std::vector<std::int64_t>{2, 2}},
                                                      {"stride", std::vector<std::int64_t>{2, 2}},
                                                      {"padding", std::vector<std::int64_t>{0, 0}},
                                                      {"dilation", std::vector<std::int64_t>{1, 1}},
                                                      {"ceil_mode", std::int64_t{0}}});
  EXPECT_TRUE(shares_observer(*relu));  // ops without a condition follow their flags
  EXPECT_FALSE(is_value_preserving(*relu));
  EXPECT_TRUE(is_value_preserving(*pool));
}

// value_preserving: op(dequantize(q)) == dequantize(op(q)) bit for bit, which is what lets
// the lowering run the op on int8 codes. Every flagged op is built and checked here (a new
// flagged op without a case below fails the set comparison).
TEST(OpTraits, ValuePreservingOpsCommuteWithDequantize) {
  const std::map<OpKind, std::function<Value*(GraphBuilder&, Value*)>> builders{
      {OpKind::MaxPool2d,
       [](GraphBuilder& b, Value* v) {
         return b.max_pool2d(v, MaxPool2dOptions({2, 2}));
       }},
      {OpKind::Flatten, [](GraphBuilder& b, Value* v) { return b.flatten(v, 1); }},
      {OpKind::Reshape,
       [](GraphBuilder& b, Value* v) {
         return b.reshape(v, {2, -1});
       }},
      {OpKind::Transpose, [](GraphBuilder& b, Value* v) { return b.transpose(v, 1, 3); }},
      {OpKind::Slice,
       [](GraphBuilder& b, Value* v) {
         return b.node(OpKind::Slice, {v},
                       {{"dims", std::vector<std::int64_t>{1, 3}},
                        {"starts", std::vector<std::int64_t>{-1, 1}},
                        {"ends", std::vector<std::int64_t>{0, 6}},
                        {"steps", std::vector<std::int64_t>{-1, 2}}})
             ->output();
       }},
      {OpKind::Gather,
       [](GraphBuilder& b, Value* v) {
         return b.node(OpKind::Gather, {v},
                       {{"dim", std::int64_t{2}}, {"indices", std::vector<std::int64_t>{3, -4, 1}}})
             ->output();
       }},
      {OpKind::Expand,
       [](GraphBuilder& b, Value* v) {
         return b.node(OpKind::Expand, {v}, {{"shape", std::vector<std::int64_t>{2, 1, 1, 1, 1}}})
             ->output();
       }},
      // Nearest only (OpTraits::holds_for; ResizeTraitsHoldForNearestOnly below).
      {OpKind::Resize,
       [](GraphBuilder& b, Value* v) {
         return b.node(OpKind::Resize, {v}, resize_attrs("nearest"))->output();
       }},
  };
  const std::set<OpKind> flagged = ops_where([](const OpTraits& t) { return t.value_preserving; });
  std::set<OpKind> known;
  for (const auto& [op, build] : builders) known.insert(op);
  ASSERT_EQ(flagged, known);

  const QuantizeAttrs qp{0.037, 5, -128, 127, DType::Int8};
  const Tensor q = random_ints<std::int8_t>({2, 3, 4, 6}, 7, -128, 127);
  for (const auto& [op, build] : builders) {
    GraphBuilder on_codes, on_floats;
    Value* a = on_codes.input("q", DType::Int8, {2, 3, 4, 6});
    on_codes.output(on_codes.dequantize_per_tensor(build(on_codes, a), qp));
    Value* c = on_floats.input("q", DType::Int8, {2, 3, 4, 6});
    on_floats.output(build(on_floats, on_floats.dequantize_per_tensor(c, qp)));
    const Graph g1 = std::move(on_codes).build();
    const Graph g2 = std::move(on_floats).build();
    EXPECT_TRUE(identical(run_graph(g1, {q})[0], run_graph(g2, {q})[0])) << op_name(op);
  }
}

// The lowering turns dequantize → pointwise op → quantize into a 256-entry table computed on
// a [256] tensor of codes: that is only right if every output element depends on the input
// element at its position alone, whatever the shape. Checked by running each flagged op on
// a 4-d tensor and on its elements in reverse order as a flat vector.
TEST(OpTraits, PointwiseOpsDependOnTheirOwnElementOnly) {
  const std::map<OpKind, AttributeMap> attrs = [] {
    std::map<OpKind, AttributeMap> m;
    for (OpKind op : {OpKind::Relu, OpKind::Sigmoid, OpKind::Tanh, OpKind::HardSwish, OpKind::Erf,
                      OpKind::Exp, OpKind::Neg, OpKind::Sqrt}) {
      m[op];
    }
    m[OpKind::Hardtanh].emplace("min_val", -0.5);
    m[OpKind::Hardtanh].emplace("max_val", 0.7);
    m[OpKind::Clamp].emplace("min", -0.3);
    m[OpKind::HardSigmoid].emplace("alpha", 1.0 / 6.0);
    m[OpKind::HardSigmoid].emplace("beta", 0.5);
    m[OpKind::LeakyRelu].emplace("negative_slope", 0.1);
    return m;
  }();
  std::set<OpKind> known;
  for (const auto& [op, a] : attrs) known.insert(op);
  ASSERT_EQ(ops_where([](const OpTraits& t) { return t.pointwise; }), known);

  const Tensor x = testing::random_tensor({2, 3, 4, 5}, 11, -6.0f, 6.0f);
  Tensor reversed = Tensor::empty({x.numel()}, DType::Float32);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    reversed.data<float>()[i] = x.data<float>()[x.numel() - 1 - i];
  }
  for (const auto& [op, a] : attrs) {
    GraphBuilder b;
    b.output(b.node(op, {b.input("x", DType::Float32, x.shape())}, [&a = a] {
                AttributeMap copy;
                for (const auto& [k, v] : a) copy.emplace(k, v.clone());
                return copy;
              }())->output());
    const Graph g = std::move(b).build();
    const Node& n = *g.nodes().front();
    const Tensor whole = evaluate_node(n, std::span<const Tensor>(&x, 1))[0];
    const Tensor flat = op_schema(op).reference(n, std::span<const Tensor>(&reversed, 1))[0];
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      // Bits, not ==: sqrt of the negative elements is NaN in both runs.
      ASSERT_EQ(std::bit_cast<std::uint32_t>(whole.data<float>()[i]),
                std::bit_cast<std::uint32_t>(flat.data<float>()[x.numel() - 1 - i]))
          << op_name(op) << " element " << i;
    }
  }
}

TEST(OpTraits, CategoriesNameTheQuantizationOps) {
  EXPECT_EQ(ops_where([](const OpTraits& t) { return t.category == OpCategory::Quantize; }),
            (std::set<OpKind>{OpKind::QuantizePerTensor, OpKind::QuantizePerChannel,
                              OpKind::QuantizePerGroup}));
  EXPECT_EQ(ops_where([](const OpTraits& t) { return t.category == OpCategory::Dequantize; }),
            (std::set<OpKind>{OpKind::DequantizePerTensor, OpKind::DequantizePerChannel,
                              OpKind::DequantizePerGroup, OpKind::ApotDequantize}));
  EXPECT_EQ(ops_where([](const OpTraits& t) { return t.category == OpCategory::Stateful; }),
            (std::set<OpKind>{OpKind::Observe, OpKind::FakeQuantize}));
}

}  // namespace
}  // namespace quantkit::graph
