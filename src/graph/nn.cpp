#include "quantkit/graph/nn.h"

#include <cmath>

#include "quantkit/core/error.h"
#include "quantkit/graph/functional.h"

namespace quantkit::graph {
namespace {

// torch's kaiming_uniform_(a = sqrt(5)) and the bias rule both come down to
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
float fan_in_bound(std::int64_t fan_in) {
  return fan_in > 0 ? 1.0f / std::sqrt(static_cast<float>(fan_in)) : 0.0f;
}

Tensor make_param(Shape shape) { return Tensor::zeros(std::move(shape), DType::Float32); }

void fill(Tensor& t, float v) {
  for (float& x : t.span<float>()) x = v;
}

}  // namespace

// ---- Linear ----

Linear::Linear(std::int64_t in_features, std::int64_t out_features, bool bias)
    : Module("Linear"), has_bias_(bias) {
  check_argument(in_features >= 0, "Linear", "in_features", in_features, ">= 0");
  check_argument(out_features >= 1, "Linear", "out_features", out_features, ">= 1");
  weight = make_param({out_features, in_features});
  register_parameter("weight", weight);
  if (bias) {
    this->bias = make_param({out_features});
    register_parameter("bias", this->bias);
  }
  ParameterInit init(kDefaultInitSeed);
  init_parameters(init);
}

void Linear::init_parameters(ParameterInit& init) {
  const float bound = fan_in_bound(weight.size(1));
  init.uniform(weight, -bound, bound);
  if (has_bias_) init.uniform(bias, -bound, bound);
}

// Parameters are fetched one statement at a time: function arguments are evaluated in an
// unspecified order, and the order of first use decides the graph's parameter order.
Proxy Linear::forward(const Proxy& x) {
  Value* w = param(x, "weight");
  Value* b = has_bias_ ? param(x, "bias") : nullptr;
  return x.tracer().wrap(x.tracer().builder().linear(x.value(), w, b));
}

// ---- Conv2d ----

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
               Conv2dOptions options, bool bias)
    : Conv2d(in_channels, out_channels, std::pair{kernel_size, kernel_size}, std::move(options),
             bias) {}

Conv2d::Conv2d(std::int64_t in_channels, std::int64_t out_channels,
               std::pair<std::int64_t, std::int64_t> kernel_size, Conv2dOptions options, bool bias)
    : Module("Conv2d"), options_(std::move(options)), has_bias_(bias) {
  check_argument(options_.groups >= 1, "Conv2d", "groups", options_.groups, ">= 1");
  check_argument(in_channels >= 1 && in_channels % options_.groups == 0, "Conv2d", "in_channels",
                 in_channels, "a positive multiple of groups");
  check_argument(out_channels >= 1 && out_channels % options_.groups == 0, "Conv2d", "out_channels",
                 out_channels, "a positive multiple of groups");
  check_argument(kernel_size.first >= 1 && kernel_size.second >= 1, "Conv2d", "kernel_size",
                 std::to_string(kernel_size.first) + "x" + std::to_string(kernel_size.second),
                 "positive sizes");
  weight = make_param(
      {out_channels, in_channels / options_.groups, kernel_size.first, kernel_size.second});
  register_parameter("weight", weight);
  if (bias) {
    this->bias = make_param({out_channels});
    register_parameter("bias", this->bias);
  }
  ParameterInit init(kDefaultInitSeed);
  init_parameters(init);
}

void Conv2d::init_parameters(ParameterInit& init) {
  const float bound = fan_in_bound(weight.size(1) * weight.size(2) * weight.size(3));
  init.uniform(weight, -bound, bound);
  if (has_bias_) init.uniform(bias, -bound, bound);
}

Proxy Conv2d::forward(const Proxy& x) {
  Value* w = param(x, "weight");
  Value* b = has_bias_ ? param(x, "bias") : nullptr;
  return x.tracer().wrap(x.tracer().builder().conv2d(x.value(), w, b, options_));
}

// ---- BatchNorm2d ----

BatchNorm2d::BatchNorm2d(std::int64_t num_features, double eps) : Module("BatchNorm2d"), eps_(eps) {
  check_argument(num_features >= 1, "BatchNorm2d", "num_features", num_features, ">= 1");
  check_argument(eps >= 0, "BatchNorm2d", "eps", eps, ">= 0");
  weight = make_param({num_features});
  bias = make_param({num_features});
  running_mean = make_param({num_features});
  running_var = make_param({num_features});
  register_parameter("weight", weight);
  register_parameter("bias", bias);
  register_parameter("running_mean", running_mean);
  register_parameter("running_var", running_var);
  ParameterInit init(kDefaultInitSeed);
  init_parameters(init);
}

void BatchNorm2d::init_parameters(ParameterInit& init) {
  (void)init;  // deterministic: torch's reset_parameters / reset_running_stats
  fill(weight, 1.0f);
  fill(bias, 0.0f);
  fill(running_mean, 0.0f);
  fill(running_var, 1.0f);
}

Proxy BatchNorm2d::forward(const Proxy& x) {
  Value* w = param(x, "weight");
  Value* b = param(x, "bias");
  Value* mean = param(x, "running_mean");
  Value* var = param(x, "running_var");
  return x.tracer().wrap(x.tracer().builder().batch_norm(x.value(), w, b, mean, var, eps_));
}

// ---- stateless layers ----

Proxy ReLU::forward(const Proxy& x) { return functional::relu(x); }

Proxy Hardtanh::forward(const Proxy& x) { return functional::hardtanh(x, min_val_, max_val_); }

MaxPool2d::MaxPool2d(MaxPool2dOptions options)
    : Module("MaxPool2d"), options_(std::move(options)) {}

MaxPool2d::MaxPool2d(std::int64_t kernel_size, std::optional<std::int64_t> stride,
                     std::int64_t padding)
    : Module("MaxPool2d"),
      options_({kernel_size, kernel_size},
               {stride.value_or(kernel_size), stride.value_or(kernel_size)}, {padding, padding}) {}

Proxy MaxPool2d::forward(const Proxy& x) { return functional::max_pool2d(x, options_); }

AvgPool2d::AvgPool2d(AvgPool2dOptions options)
    : Module("AvgPool2d"), options_(std::move(options)) {}

AvgPool2d::AvgPool2d(std::int64_t kernel_size, std::optional<std::int64_t> stride,
                     std::int64_t padding)
    : Module("AvgPool2d"),
      options_({kernel_size, kernel_size},
               {stride.value_or(kernel_size), stride.value_or(kernel_size)}, {padding, padding}) {}

Proxy AvgPool2d::forward(const Proxy& x) { return functional::avg_pool2d(x, options_); }

Proxy AdaptiveAvgPool2d::forward(const Proxy& x) {
  return functional::adaptive_avg_pool2d(x, output_size_);
}

Proxy Flatten::forward(const Proxy& x) { return functional::flatten(x, start_dim_, end_dim_); }

Proxy Softmax::forward(const Proxy& x) { return functional::softmax(x, dim_); }

// ---- Sequential ----

Sequential& Sequential::push_back(std::unique_ptr<Module> child) {
  check_argument(child != nullptr, "Sequential::push_back", "child", "null", "a module");
  register_module(std::to_string(owned_.size()), *child);
  owned_.push_back(std::move(child));
  return *this;
}

Module& Sequential::operator[](std::size_t i) const {
  check_argument(i < owned_.size(), "Sequential", "index", i,
                 "an index below " + std::to_string(owned_.size()));
  return *owned_[i];
}

Proxy Sequential::forward(const Proxy& x) {
  Proxy y = x;
  for (auto& child : owned_) y = (*child)(y);
  return y;
}

}  // namespace quantkit::graph
