#pragma once
// Small models for the ONNX export suites: a CNN (conv-relu-pool ×2, flatten, two linears)
// in fp32, and the same CNN in Q/DQ form as convert_pt2e writes it for XNNPACK's static
// config (int8 activations per tensor from calibrated ranges, int8 weights symmetric per
// channel for convs and per tensor for linears, float bias), or with dynamically quantized
// linears (choose_qparams → quantize → dequantize).
//
// The Q/DQ graph is built by hand here so the export suites do not depend on the PT2E
// passes; its qparams come from running the fp32 graph on calibration inputs, as an
// observer would.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/builder.h"
#include "quantkit/graph/export.h"
#include "quantkit/graph/interpreter.h"
#include "quantkit/graph/nn.h"

namespace quantkit::onnx::testing {

using graph::GraphBuilder;
using graph::Value;

inline Tensor uniform_tensor(Shape shape, std::uint32_t seed, float lo, float hi) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(std::move(shape), DType::Float32);
  for (float& v : t.span<float>()) v = dist(engine);
  return t;
}

struct CnnWeights {
  Tensor conv1_w = uniform_tensor({4, 1, 3, 3}, 1, -0.6f, 0.6f);
  Tensor conv1_b = uniform_tensor({4}, 2, -0.1f, 0.1f);
  Tensor conv2_w = uniform_tensor({8, 4, 3, 3}, 3, -0.3f, 0.3f);
  Tensor conv2_b = uniform_tensor({8}, 4, -0.1f, 0.1f);
  Tensor fc1_w = uniform_tensor({16, 8 * 3 * 3}, 5, -0.15f, 0.15f);
  Tensor fc1_b = uniform_tensor({16}, 6, -0.1f, 0.1f);
  Tensor fc2_w = uniform_tensor({10, 16}, 7, -0.3f, 0.3f);
  Tensor fc2_b = uniform_tensor({10}, 8, -0.1f, 0.1f);
};

enum class CnnForm { Float, StaticQdq, DynamicQdq };

struct ActQParams {
  double scale;
  std::int64_t zero_point;
};

// int8 [-128, 127] affine qparams covering [min(lo, 0), max(hi, 0)] (torch's MinMax formula).
inline ActQParams affine_qparams(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const double scale = std::max(static_cast<double>(hi - lo) / 255.0, 1e-8);
  const auto zp = static_cast<std::int64_t>(-128 - std::nearbyint(lo / scale));
  return {scale, std::clamp<std::int64_t>(zp, -128, 127)};
}

class CnnBuilder {
 public:
  CnnBuilder(CnnForm form, std::int64_t batch, std::map<std::string, ActQParams> ranges)
      : form_(form), batch_(batch), act_(std::move(ranges)) {}

  graph::Graph build(const CnnWeights& w) && {
    Value* x = b_.input("input", DType::Float32, {batch_, 1, 12, 12});
    Value* h = act(x, "input");
    h = act(b_.relu(b_.conv2d(h, conv_weight("conv1.weight", w.conv1_w),
                              b_.parameter("conv1.bias", w.conv1_b),
                              graph::Conv2dOptions({1, 1}, {1, 1}))),
            "relu1");
    h = act(b_.max_pool2d(h, graph::MaxPool2dOptions({2, 2})), "relu1");  // shares its input's
    h = act(b_.relu(b_.conv2d(h, conv_weight("conv2.weight", w.conv2_w),
                              b_.parameter("conv2.bias", w.conv2_b),
                              graph::Conv2dOptions({1, 1}, {1, 1}))),
            "relu2");
    h = act(b_.max_pool2d(h, graph::MaxPool2dOptions({2, 2})), "relu2");
    h = b_.flatten(h, 1);
    h = act(b_.relu(linear(h, "fc1", w.fc1_w, w.fc1_b)), "relu3");
    h = act(linear(h, "fc2", w.fc2_w, w.fc2_b), "logits");
    b_.output(h);
    return std::move(b_).build();
  }

 private:
  // Observed activation: a Q/DQ pair with the recorded range (static form only).
  Value* act(Value* v, const std::string& name) {
    if (form_ != CnnForm::StaticQdq) return v;
    const ActQParams& q = act_.at(name);
    const graph::QuantizeAttrs attrs{q.scale, q.zero_point, -128, 127, DType::Int8};
    return b_.dequantize_per_tensor(b_.quantize_per_tensor(v, attrs), attrs);
  }

  // Symmetric int8 [-127, 127] weights, folded: an int8 constant and its dequantize.
  Value* conv_weight(const std::string& name, const Tensor& w) {
    if (form_ == CnnForm::Float) return b_.parameter(name, w);
    const std::int64_t channels = w.shape()[0];
    const std::int64_t per_channel = w.numel() / channels;
    std::vector<float> scales(static_cast<std::size_t>(channels));
    Tensor q = Tensor::empty(w.shape(), DType::Int8);
    for (std::int64_t c = 0; c < channels; ++c) {
      const float* src = w.data<float>() + c * per_channel;
      float amax = 0.0f;
      for (std::int64_t i = 0; i < per_channel; ++i) amax = std::max(amax, std::fabs(src[i]));
      const float scale = std::max(amax / 127.0f, 1e-8f);
      scales[static_cast<std::size_t>(c)] = scale;
      for (std::int64_t i = 0; i < per_channel; ++i) {
        q.data<std::int8_t>()[c * per_channel + i] = static_cast<std::int8_t>(
            std::clamp(std::nearbyint(src[i] * (1.0f / scale)), -127.0f, 127.0f));
      }
    }
    return b_.dequantize_per_channel(
        b_.constant(q, name), b_.constant(Tensor::from_vector(scales, {channels}), "scales"),
        b_.constant(Tensor::zeros({channels}, DType::Int64), "zero_points"), 0, -127, 127,
        DType::Int8);
  }

  Value* linear(Value* x, const std::string& name, const Tensor& w, const Tensor& bias) {
    Value* b = b_.parameter(name + ".bias", bias);
    if (form_ == CnnForm::Float) return b_.linear(x, b_.parameter(name + ".weight", w), b);
    float amax = 0.0f;
    for (float v : w.span<float>()) amax = std::max(amax, std::fabs(v));
    const double scale = amax / 127.0;
    Tensor q = Tensor::empty(w.shape(), DType::Int8);
    for (std::int64_t i = 0; i < w.numel(); ++i) {
      q.data<std::int8_t>()[i] = static_cast<std::int8_t>(std::clamp(
          std::nearbyint(w.data<float>()[i] * static_cast<float>(1.0 / scale)), -127.0f, 127.0f));
    }
    Value* weight = b_.dequantize_per_tensor(
        b_.constant(q, name + ".weight"), graph::QuantizeAttrs{scale, 0, -127, 127, DType::Int8});
    if (form_ == CnnForm::DynamicQdq) {
      auto [s, zp] = b_.choose_qparams(x, -128, 127, 1.1920928955078125e-07, DType::Int8);
      x = b_.dequantize_per_tensor(b_.quantize_per_tensor(x, s, zp, -128, 127, DType::Int8), s, zp,
                                   -128, 127, DType::Int8);
    }
    return b_.linear(x, weight, b);
  }

  CnnForm form_;
  std::int64_t batch_;
  std::map<std::string, ActQParams> act_;
  GraphBuilder b_;
};

// `batch` images with pixel-like values in [0, 1].
inline Tensor cnn_input(std::int64_t batch, std::uint32_t seed) {
  return uniform_tensor({batch, 1, 12, 12}, seed, 0.0f, 1.0f);
}

// linear(64 -> 96) -> relu -> linear(96 -> 32) on [tokens, 64]: every K a multiple of 32, so
// 8da4w with groups of 32 writes both weights as 4-bit groups.
inline graph::Graph per_token_mlp(std::int64_t tokens) {
  graph::Sequential net;
  net.emplace<graph::Linear>(64, 96);
  net.emplace<graph::ReLU>();
  net.emplace<graph::Linear>(96, 32);
  net.reset_parameters(5);
  return graph::export_model(net, {Tensor::zeros({tokens, 64}, DType::Float32)});
}
inline Tensor per_token_input(std::int64_t tokens, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  Tensor t = Tensor::empty({tokens, 64}, DType::Float32);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

inline graph::Graph float_cnn(std::int64_t batch, const CnnWeights& w = {}) {
  return CnnBuilder(CnnForm::Float, batch, {}).build(w);
}

// Calibrates on the fp32 CNN (min/max of every observed activation over `calibration`),
// then builds the static Q/DQ CNN.
inline graph::Graph static_qdq_cnn(std::int64_t batch, const Tensor& calibration,
                                   const CnnWeights& w = {}) {
  graph::Graph fp32 = CnnBuilder(CnnForm::Float, calibration.shape()[0], {}).build(w);
  // Observed values by the name of the fp32 node producing them (pools share their input's).
  const std::map<std::string, std::string> observed{
      {"relu", "relu1"}, {"relu_1", "relu2"}, {"relu_2", "relu3"}, {"linear_1", "logits"}};
  std::map<std::string, std::pair<float, float>> ranges;
  auto record = [&](const std::string& name, const Tensor& t) {
    auto [lo, hi] = std::minmax_element(t.data<float>(), t.data<float>() + t.numel());
    auto [it, inserted] = ranges.try_emplace(name, *lo, *hi);
    if (!inserted) it->second = {std::min(it->second.first, *lo), std::max(it->second.second, *hi)};
  };
  record("input", calibration);
  graph::Interpreter run(fp32);
  run.set_observer([&](const graph::Node& node, std::span<const Tensor> outs) {
    if (auto it = observed.find(node.name()); it != observed.end()) record(it->second, outs[0]);
  });
  run.run(std::vector<Tensor>{calibration});
  std::map<std::string, ActQParams> qparams;
  for (const auto& [name, range] : ranges) {
    qparams[name] = affine_qparams(range.first, range.second);
  }
  return CnnBuilder(CnnForm::StaticQdq, batch, std::move(qparams)).build(w);
}

inline graph::Graph dynamic_qdq_cnn(std::int64_t batch, const CnnWeights& w = {}) {
  return CnnBuilder(CnnForm::DynamicQdq, batch, {}).build(w);
}

}  // namespace quantkit::onnx::testing
