// The text dump: exact format for a small graph with every kind of definition.
#include "quantkit/graph/printer.h"

#include <gtest/gtest.h>

#include <sstream>

#include "quantkit/graph/builder.h"

namespace quantkit::graph {
namespace {

TEST(Printer, DumpsInputsParametersConstantsNodesAndOutputs) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 4, 4});
  Value* w = b.parameter("conv.weight", Tensor::zeros({3, 2, 3, 3}, DType::Float32));
  Value* two = b.constant(Tensor::scalar(2.0f), "two");
  Value* zps = b.constant(Tensor::from_vector(std::vector<std::int8_t>{-1, 0, 1}), "zps");
  b.set_source({"conv", "Conv2d"});
  Value* y = b.conv2d(x, w, nullptr, Conv2dOptions({1, 1}, {1, 1}));
  b.set_source({});
  Value* z = b.mul(y, two);
  b.output(b.quantize_per_tensor(z, QuantizeAttrs{0.25, 3, -128, 127, DType::Int8}));
  b.output(z);
  (void)zps;
  Graph g = std::move(b).build();

  const std::string expected =
      "graph(%x: f32[1, 2, 4, 4]):\n"
      "  parameters:\n"
      "    %conv.weight: f32[3, 2, 3, 3]\n"
      "  constants:\n"
      "    %two: f32[] = 2\n"
      "    %zps: i8[3] = [-1, 0, 1]\n"
      "  %conv2d: f32[1, 3, 4, 4] = conv2d(%x, %conv.weight, dilation=[1, 1], groups=1, "
      "padding=[1, 1], stride=[1, 1])  # conv (Conv2d)\n"
      "  %mul: f32[1, 3, 4, 4] = mul(%conv2d, %two)\n"
      "  %quantize_per_tensor: i8[1, 3, 4, 4] = quantize_per_tensor(%mul, dtype=int8, "
      "quant_max=127, quant_min=-128, scale=0.25, zero_point=3)\n"
      "  return (%quantize_per_tensor, %mul)\n";
  EXPECT_EQ(to_string(g), expected);
  std::ostringstream os;
  os << g;
  EXPECT_EQ(os.str(), expected);
}

TEST(Printer, MultiOutputNodeAndLargeConstant) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 5});
  b.constant(Tensor::zeros({3, 3}, DType::Float32), "big");
  auto [s, zp] = b.choose_qparams(x, -128, 127, 0.5, DType::Int8);
  b.output(s);
  b.output(zp);
  Graph g = std::move(b).build();
  const std::string dump = to_string(g);
  EXPECT_NE(dump.find("    %big: f32[3, 3]\n"), std::string::npos) << dump;  // no values
  EXPECT_NE(dump.find("  %choose_qparams_scale: f64[1], %choose_qparams_zero_point: i64[1] = "
                      "choose_qparams(%x, dtype=int8, eps=0.5, quant_max=127, quant_min=-128)\n"),
            std::string::npos)
      << dump;
}

}  // namespace
}  // namespace quantkit::graph
