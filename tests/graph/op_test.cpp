// The op registry: every op has a complete schema, names round-trip, attributes print.
#include "quantkit/graph/op.h"

#include <gtest/gtest.h>

#include <set>

#include "quantkit/core/error.h"
#include "quantkit/graph/attribute.h"

namespace quantkit::graph {
namespace {

TEST(OpRegistry, EveryOpHasACompleteSchema) {
  std::set<std::string_view> names;
  ASSERT_EQ(all_ops().size(), kNumOpKinds);
  for (OpKind op : all_ops()) {
    const OpSchema& s = op_schema(op);
    EXPECT_EQ(s.kind, op);
    EXPECT_FALSE(s.name.empty());
    EXPECT_TRUE(names.insert(s.name).second) << "duplicate name " << s.name;
    EXPECT_TRUE(s.signature.starts_with(s.name)) << s.signature;
    EXPECT_GE(s.input_names.size(), s.min_inputs) << s.name;
    EXPECT_GE(s.min_inputs, 1u) << s.name;
    EXPECT_FALSE(s.output_names.empty()) << s.name;
    EXPECT_TRUE(static_cast<bool>(s.infer)) << s.name;
    EXPECT_NE(s.reference, nullptr) << s.name << " has no reference kernel";
    EXPECT_EQ(op_from_name(s.name), op);
    EXPECT_EQ(op_name(op), s.name);
    for (const AttrSpec& a : s.attrs) EXPECT_EQ(s.find_attr(a.name), &a);
  }
  EXPECT_EQ(op_schema(OpKind::Cat).max_inputs(), SIZE_MAX);
  EXPECT_EQ(op_schema(OpKind::Linear).max_inputs(), 3u);
  EXPECT_EQ(op_schema(OpKind::ChooseQParams).output_names.size(), 2u);
}

TEST(OpRegistry, UnknownNamesAreErrors) {
  EXPECT_THROW(op_from_name("conv3d"), Error);
  EXPECT_THROW(op_schema(static_cast<OpKind>(kNumOpKinds)), Error);
}

TEST(OpRegistry, InferenceReportsTheNode) {
  const std::vector<TensorType> inputs{{DType::Float32, {2, 3}}, {DType::Float32, {4, 5}}};
  const AttributeMap attrs;
  try {
    op_schema(OpKind::Linear).infer(InferContext("fc", "linear", inputs, attrs));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "node 'fc' (linear): x f32[2, 3] has 3 features, weight f32[4, 5] expects 5");
  }
  const std::vector<TensorType> one{{DType::Float32, {2, 3}}};
  try {
    op_schema(OpKind::Softmax).infer(InferContext("sm", "softmax", one, attrs));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "node 'sm' (softmax): missing attribute 'dim'");
  }
}

TEST(Attribute, KindsPrintingCloneAndEquality) {
  EXPECT_EQ(Attribute(3).to_string(), "3");
  EXPECT_EQ(Attribute(0.5).to_string(), "0.5");
  EXPECT_EQ(Attribute(std::vector<std::int64_t>{1, 2}).to_string(), "[1, 2]");
  EXPECT_EQ(Attribute(std::vector<double>{0.25, 1}).to_string(), "[0.25, 1]");
  EXPECT_EQ(Attribute("same").to_string(), "'same'");
  EXPECT_EQ(Attribute(DType::UInt8).to_string(), "uint8");
  const Tensor t = Tensor::from_vector(std::vector<float>{1, 2});
  const Attribute a(t);
  EXPECT_EQ(a.to_string(), "tensor(float32[2])");
  EXPECT_EQ(a.kind(), AttrKind::Tensor);
  const Attribute c = a.clone();
  EXPECT_EQ(a, c);
  EXPECT_NE(c.as_tensor().raw_data(), t.raw_data());
  EXPECT_FALSE(Attribute(1) == Attribute(1.0));
  EXPECT_THROW((void)Attribute(1).as_float("x"), Error);
  EXPECT_EQ(attr_kind_name(AttrKind::Ints), "ints");
}

TEST(TensorType, Printing) {
  EXPECT_EQ((TensorType{DType::Int8, {}}).to_string(), "i8[]");
  EXPECT_EQ((TensorType{DType::Float32, {1, 3}}).to_string(), "f32[1, 3]");
  EXPECT_EQ(short_dtype_name(DType::UInt8), "u8");
}

}  // namespace
}  // namespace quantkit::graph
