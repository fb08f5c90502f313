// Batch norm in QatModule: train mode normalizes with batch statistics and updates the running
// statistics with momentum 0.1 (torch's unbiased variance), eval mode and freeze_bn_stats use
// the running statistics and leave them alone, enable_observers(false) freezes qparams, and
// write_back makes convert_pt2e (which folds batch norm into the conv, pt2e/qat_conv_bn.h)
// see the trained weights and statistics.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/optim/sgd.h>

#include <string>
#include <vector>

#include "quantkit/graph/builder.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/pt2e/convert.h"
#include "quantkit/pt2e/prepare.h"
#include "quantkit/pt2e/xnnpack_quantizer.h"
#include "quantkit/torch/qat_module.h"
#include "torch/qat_test_support.h"

namespace quantkit {
namespace {

using graph::GraphBuilder;
using graph::Value;
using torch_test::from_quantkit;
using torch_test::uniform;

at::Tensor graph_data(const pt2e::PreparedModel& m, const std::string& name) {
  return from_quantkit(m.graph().find_value(name)->data());
}

// x [N, 3, 6, 6] -> conv(4, 3x3) -> batch_norm -> relu -> flatten -> linear(5).
graph::Graph conv_bn() {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 3, 6, 6}, {"N", "", "", ""});
  Value* y = b.conv2d(x, b.parameter("conv.weight", uniform({4, 3, 3, 3}, 1, -0.3f, 0.3f)),
                      b.parameter("conv.bias", uniform({4}, 2, -0.1f, 0.1f)));
  y = b.batch_norm(y, b.parameter("bn.weight", uniform({4}, 3, 0.5f, 1.5f)),
                   b.parameter("bn.bias", uniform({4}, 4, -0.2f, 0.2f)),
                   b.parameter("bn.running_mean", Tensor::zeros({4}, DType::Float32)),
                   b.parameter("bn.running_var", uniform({4}, 5, 0.8f, 1.2f)));
  y = b.linear(b.flatten(b.relu(y), 1), b.parameter("fc.weight", uniform({5, 64}, 6, -0.1f, 0.1f)));
  b.output(y);
  return std::move(b).build();
}

TEST(QatBatchNorm, RunningStatisticsFollowTorchsMomentumUpdate) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {1, 2, 3, 3}, {"N", "", "", ""});
  b.output(b.batch_norm(x, b.parameter("bn.weight", uniform({2}, 1, 0.5f, 1.5f)),
                        b.parameter("bn.bias", uniform({2}, 2)),
                        b.parameter("bn.running_mean", uniform({2}, 3)),
                        b.parameter("bn.running_var", uniform({2}, 4, 0.5f, 2.0f)), 1e-3));
  pt2e::PreparedModel prepared(std::move(b).build(), {}, true);
  const at::Tensor mean0 = graph_data(prepared, "bn.running_mean");
  const at::Tensor var0 = graph_data(prepared, "bn.running_var");
  torch::QatModule module(prepared);
  ASSERT_EQ(module.parameters().size(), 2u);  // the affine pair; the statistics are buffers
  const at::Tensor xs = from_quantkit(uniform({4, 2, 3, 3}, 5, 1.0f, 4.0f));
  const at::Tensor y = module.forward(xs);
  // Train mode normalizes with the batch's statistics: per channel mean ~ bias.
  EXPECT_TRUE(at::allclose(y.mean({0, 2, 3}), graph_data(prepared, "bn.bias"), 1e-5, 1e-5));
  module.write_back();
  const at::Tensor batch_mean = xs.mean({0, 2, 3});
  const at::Tensor batch_var = xs.var({0, 2, 3}, /*unbiased=*/true);
  EXPECT_TRUE(at::allclose(graph_data(prepared, "bn.running_mean"), 0.9 * mean0 + 0.1 * batch_mean,
                           1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(graph_data(prepared, "bn.running_var"), 0.9 * var0 + 0.1 * batch_var,
                           1e-6, 1e-6));
}

TEST(QatBatchNorm, EvalAndFrozenStatisticsUseTheRunningStatisticsAndKeepThem) {
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(pt2e::get_symmetric_quantization_config(true, true));
  pt2e::PreparedModel prepared = pt2e::prepare_qat_pt2e(conv_bn(), quantizer);
  ASSERT_EQ(graph::count_nodes(prepared.graph(), graph::OpKind::BatchNorm), 1u)
      << "prepare_qat_pt2e keeps batch norm (pt2e/qat_conv_bn.h)";
  torch::QatModule module(prepared);
  const at::Tensor x = from_quantkit(uniform({8, 3, 6, 6}, 7, 0.0f, 3.0f));
  module.forward(x);  // train: statistics move, observers see data
  module.write_back();
  const at::Tensor mean1 = graph_data(prepared, "bn.running_mean");
  EXPECT_GT(mean1.abs().max().item<double>(), 0.0);

  module.enable_observers(false);
  const QParams qparams = prepared.place("activation_post_process_0").fake_quant->qparams();
  module.freeze_bn_stats(true);
  const at::Tensor frozen = module.forward(x * 2.0);
  module.write_back();
  EXPECT_TRUE(at::equal(graph_data(prepared, "bn.running_mean"), mean1));
  EXPECT_EQ(prepared.place("activation_post_process_0").fake_quant->qparams().scale, qparams.scale);

  module.eval();
  const at::Tensor eval = module.forward(x * 2.0);
  EXPECT_TRUE(at::equal(frozen, eval));  // frozen statistics = eval-mode batch norm
  module.write_back();
  EXPECT_TRUE(at::equal(graph_data(prepared, "bn.running_mean"), mean1));
  // The prepared graph's own (eval-form) forward agrees, within one output step.
  const graph::Node* last = prepared.graph().outputs()[0]->producer();
  const double step = prepared.place(last->attr_string("module")).fake_quant->qparams().scale[0];
  const at::Tensor reference = from_quantkit(prepared.run({torch_test::to_quantkit(x * 2.0)})[0]);
  EXPECT_LE((eval - reference).abs().max().item<double>(), step * 1.001);

  module.train();
  module.freeze_bn_stats(false);  // batch statistics again: another function
  EXPECT_FALSE(at::allclose(module.forward(x * 2.0), eval));
}

TEST(QatBatchNorm, WriteBackMakesConvertSeeTheTrainedValues) {
  pt2e::XNNPACKQuantizer quantizer;
  quantizer.set_global(pt2e::get_symmetric_quantization_config(true, true));
  pt2e::PreparedModel prepared = pt2e::prepare_qat_pt2e(conv_bn(), quantizer);
  torch::QatModule module(prepared);
  ::torch::optim::SGD optimizer(module.parameters(), ::torch::optim::SGDOptions(0.1));
  for (std::uint32_t step = 0; step < 10; ++step) {
    // Inputs far from the initial statistics (mean 0), so they move a lot.
    const at::Tensor x = from_quantkit(uniform({16, 3, 6, 6}, 20 + step, 1.0f, 5.0f));
    optimizer.zero_grad();
    module.forward(x).pow(2).mean().backward();
    optimizer.step();
  }
  module.eval();
  const at::Tensor x = from_quantkit(uniform({8, 3, 6, 6}, 40, 1.0f, 5.0f));
  const at::Tensor expected = module.forward(x).detach();
  const graph::Node* last = prepared.graph().outputs()[0]->producer();
  const double step = prepared.place(last->attr_string("module")).fake_quant->qparams().scale[0];
  auto converted_output = [&] {
    return from_quantkit(graph::run_graph(pt2e::convert_pt2e(prepared),
                                          {torch_test::to_quantkit(x)})[0]);
  };
  const at::Tensor stale = converted_output();  // the graph still holds the initial values
  module.write_back();
  const at::Tensor trained = converted_output();
  EXPECT_LE((trained - expected).abs().max().item<double>(), step * 1.001);
  EXPECT_GT((stale - expected).abs().max().item<double>(), 10 * step);
}

}  // namespace
}  // namespace quantkit
