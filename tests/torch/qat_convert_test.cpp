// After QAT: write_back -> convert_pt2e -> lower_to_fused_kernels -> runtime::Runtime computes
// what the QatModule's eval-mode fake-quantized forward computes, within one quantization step
// of the output (the fused kernels round to nearest where the Q/DQ graph's float arithmetic
// does; float summation orders differ between LibTorch and quantkit), for int8 and 2-bit
// weights.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>

#include <iostream>
#include <string>
#include <vector>

#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/lowering.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/runtime/runtime.h"
#include "quantkit/torch/qat_module.h"
#include "torch/qat_test_support.h"

namespace quantkit {
namespace {

using torch_test::from_quantkit;
using torch_test::to_quantkit;
using torch_test::uniform;

// Some SGD steps on random images towards random classes: the weights move away from their
// initial values (what write_back must carry to convert).
void train_a_little(torch::QatModule& module) {
  ::torch::optim::SGD optimizer(module.parameters(), ::torch::optim::SGDOptions(0.05));
  module.train();
  for (std::uint32_t step = 0; step < 20; ++step) {
    const at::Tensor x = from_quantkit(uniform({32, 1, 28, 28}, 500 + step, 0.0f, 1.0f));
    const at::Tensor y = at::arange(32, at::kLong).remainder(10);
    optimizer.zero_grad();
    at::nll_loss(at::log_softmax(module.forward(x), 1), y).backward();
    optimizer.step();
  }
}

struct Case {
  std::string name;
  std::int64_t weight_qmin, weight_qmax;
};

class QatConvert : public ::testing::TestWithParam<Case> {};

TEST_P(QatConvert, LoweredRuntimeMatchesTheEvalForwardWithinOneOutputStep) {
  const Case c = GetParam();
  const graph::Graph fp32 = torch_test::small_cnn(3);
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(pt2e::get_symmetric_quantization_config(true, true, false, -128, 127,
                                                               c.weight_qmin, c.weight_qmax));
  pt2e::PreparedModel prepared = pt2e::prepare_qat_pt2e(fp32, quantizer);
  torch::QatModule module(prepared);
  train_a_little(module);
  module.write_back();
  // write_back carried every trained leaf, which training moved.
  const auto named = module.named_parameters();
  ASSERT_EQ(named.size(), 6u);
  for (const auto& [name, leaf] : named) {
    const at::Tensor written = from_quantkit(prepared.graph().find_value(name)->data());
    EXPECT_TRUE(at::equal(written, leaf.detach())) << name;
    EXPECT_FALSE(at::equal(written, from_quantkit(fp32.find_value(name)->data()))) << name;
  }

  module.eval();
  const Tensor x = uniform({16, 1, 28, 28}, 900, 0.0f, 1.0f);
  const at::Tensor expected = module.forward(from_quantkit(x)).detach();

  const graph::Graph lowered = pt2e::lower_to_fused_kernels(pt2e::convert_pt2e(prepared));
  ASSERT_GT(graph::count_nodes(lowered, graph::OpKind::QuantizedConv2d), 0u);
  const runtime::Runtime runtime(lowered);
  const at::Tensor got = from_quantkit(runtime.run(std::vector<Tensor>{x})[0]);

  const graph::Node* last = prepared.graph().outputs()[0]->producer();
  const double step = prepared.place(last->attr_string("module")).fake_quant->qparams().scale[0];
  const at::Tensor steps_off = (got - expected).abs() / step;
  std::cout << c.name << ": output step " << step << ", max difference "
            << steps_off.max().item<double>() << " steps, "
            << steps_off.gt(0.5).to(at::kDouble).mean().item<double>() * 100
            << "% of outputs differ\n";
  EXPECT_LE(steps_off.max().item<double>(), 1.001);
}

INSTANTIATE_TEST_SUITE_P(Weights, QatConvert,
                         ::testing::Values(Case{"int8", -127, 127}, Case{"two_bit", -2, 1}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace quantkit
