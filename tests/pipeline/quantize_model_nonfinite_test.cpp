// pipeline::quantize_model on calibration data that is not finite: the error names the batch, the
// sample and, for a value that only turns non-finite inside the model, the observer node and the
// tensor it observes (it used to say only "histogram: ... 'x[0]': got -nan").
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "quantkit/core/error.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/nn.h"
#include "quantkit/pipeline/quantize_model.h"

namespace quantkit {
namespace {

class TwoLayers : public graph::Module {
 public:
  graph::Linear fc1{4, 4};
  graph::ReLU relu;
  graph::Linear fc2{4, 2};
  TwoLayers() : Module("TwoLayers") {
    register_module("fc1", fc1);
    register_module("relu", relu);
    register_module("fc2", fc2);
    reset_parameters(7);
  }
  graph::Proxy forward(const graph::Proxy& x) override { return fc2(relu(fc1(x))); }
};

// Batches of [2, 4]: 2 samples of 4 values.
std::vector<Tensor> batches(int count, float value = 0.25f) {
  std::vector<Tensor> out;
  for (int b = 0; b < count; ++b) {
    std::vector<float> v(8);
    for (int i = 0; i < 8; ++i) v[i] = value * static_cast<float>(i - 3 + b);
    out.push_back(Tensor::from_vector(v, {2, 4}));
  }
  return out;
}

std::string error_of(const graph::Graph& g, const std::string& config,
                     const std::vector<Tensor>& data) {
  try {
    pipeline::quantize_model(g, config, data);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for " << config;
  return "";
}

TEST(QuantizeModelNonFinite, NamesTheBatchAndTheSampleOfANonFiniteInput) {
  TwoLayers net;
  const graph::Graph g = graph::export_model(net, {Tensor::zeros({2, 4}, DType::Float32)});
  for (const char* config : {"int8", "int8-per-channel", "apot-w4"}) {
    std::vector<Tensor> data = batches(4);
    data[2].data<float>()[5] = std::numeric_limits<float>::infinity();  // sample 2 * 2 + 5 / 4
    const std::string message = error_of(g, config, data);
    EXPECT_NE(message.find("calibration batch 2 (input '" + g.inputs()[0]->name() + "')"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("1 non-finite value (0 NaN, 1 infinite; the first, "
                           "at flat index 5, "
                           "is inf): sample 5 of the calibration data"),
              std::string::npos)
        << message;
  }
  std::vector<Tensor> data = batches(1);
  data[0].data<float>()[0] = std::nanf("");
  EXPECT_NE(error_of(g, "int8", data).find("is nan): sample 0"), std::string::npos);
}

TEST(QuantizeModelNonFinite, AnOverflowInsideTheModelNamesTheObserverAndTheLayer) {
  TwoLayers net;
  // fc1's outputs overflow float32 on finite inputs: every weight 1, inputs near FLT_MAX.
  for (float& w : net.fc1.weight.span<float>()) w = 1.0f;
  const graph::Graph g = graph::export_model(net, {Tensor::zeros({2, 4}, DType::Float32)});
  std::vector<Tensor> data = batches(2);
  for (float& v : data[1].span<float>()) v = std::numeric_limits<float>::max();
  const std::string message = error_of(g, "int8", data);
  EXPECT_EQ(message.rfind("quantize_model: calibration batch 1: node '", 0), 0u) << message;
  // fc1's output is finite-but-huge or inf; fc2's ("linear_1") is where NaN appears.
  EXPECT_NE(message.find("(observe of 'linear_1'): histogram:"), std::string::npos) << message;
}

}  // namespace
}  // namespace quantkit
