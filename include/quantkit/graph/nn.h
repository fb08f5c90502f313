#pragma once
// Layers mirroring torch.nn (eval-mode semantics), for models traced by export_model.
// Parameters are initialised like torch's reset_parameters (uniform bounds from fan-in)
// from kDefaultInitSeed; Module::reset_parameters(seed) on the root redraws them all.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "quantkit/graph/builder.h"
#include "quantkit/graph/module.h"

namespace quantkit::graph {

// y = x · weightᵀ + bias; weight [out, in], bias [out].
// Init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform_(a=sqrt(5))).
class Linear : public Module {
 public:
  Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true);
  Proxy forward(const Proxy& x) override;
  Tensor weight;
  Tensor bias;  // empty when constructed without bias
  bool has_bias() const { return has_bias_; }

 protected:
  void init_parameters(ParameterInit& init) override;

 private:
  bool has_bias_;
};

// weight [out, in / groups, kH, kW], bias [out]; options as in torch.nn.Conv2d (zero
// padding). Init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in / groups * kH * kW.
class Conv2d : public Module {
 public:
  Conv2d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size,
         Conv2dOptions options = {}, bool bias = true);
  Conv2d(std::int64_t in_channels, std::int64_t out_channels,
         std::pair<std::int64_t, std::int64_t> kernel_size, Conv2dOptions options = {},
         bool bias = true);
  Proxy forward(const Proxy& x) override;
  const Conv2dOptions& options() const { return options_; }
  Tensor weight;
  Tensor bias;
  bool has_bias() const { return has_bias_; }

 protected:
  void init_parameters(ParameterInit& init) override;

 private:
  Conv2dOptions options_;
  bool has_bias_;
};

// Inference-mode batch norm over dim 1 with running statistics (torch.nn.BatchNorm2d in
// eval()): weight = 1, bias = 0, running_mean = 0, running_var = 1 initially.
class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(std::int64_t num_features, double eps = 1e-5);
  Proxy forward(const Proxy& x) override;
  double eps() const { return eps_; }
  Tensor weight;
  Tensor bias;
  Tensor running_mean;
  Tensor running_var;

 protected:
  void init_parameters(ParameterInit& init) override;

 private:
  double eps_;
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Proxy forward(const Proxy& x) override;
};

class Hardtanh : public Module {
 public:
  explicit Hardtanh(double min_val = -1.0, double max_val = 1.0)
      : Module("Hardtanh"), min_val_(min_val), max_val_(max_val) {}
  Proxy forward(const Proxy& x) override;

 private:
  double min_val_, max_val_;
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(MaxPool2dOptions options);
  // kernel_size, stride (default: kernel_size), padding, as torch.nn.MaxPool2d(k, s, p).
  explicit MaxPool2d(std::int64_t kernel_size, std::optional<std::int64_t> stride = std::nullopt,
                     std::int64_t padding = 0);
  Proxy forward(const Proxy& x) override;

 private:
  MaxPool2dOptions options_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(AvgPool2dOptions options);
  explicit AvgPool2d(std::int64_t kernel_size, std::optional<std::int64_t> stride = std::nullopt,
                     std::int64_t padding = 0);
  Proxy forward(const Proxy& x) override;

 private:
  AvgPool2dOptions options_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::int64_t output_size)
      : AdaptiveAvgPool2d(std::pair{output_size, output_size}) {}
  explicit AdaptiveAvgPool2d(std::pair<std::int64_t, std::int64_t> output_size)
      : Module("AdaptiveAvgPool2d"), output_size_{output_size.first, output_size.second} {}
  Proxy forward(const Proxy& x) override;

 private:
  std::vector<std::int64_t> output_size_;
};

// torch.nn.Flatten: start_dim = 1 by default (keeps the batch dim).
class Flatten : public Module {
 public:
  explicit Flatten(std::int64_t start_dim = 1, std::int64_t end_dim = -1)
      : Module("Flatten"), start_dim_(start_dim), end_dim_(end_dim) {}
  Proxy forward(const Proxy& x) override;

 private:
  std::int64_t start_dim_, end_dim_;
};

class Softmax : public Module {
 public:
  explicit Softmax(std::int64_t dim) : Module("Softmax"), dim_(dim) {}
  Proxy forward(const Proxy& x) override;

 private:
  std::int64_t dim_;
};

// Applies its children in order; they are named "0", "1", ... as in torch.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  // Constructs a child in place and returns it (to set weights, for instance).
  template <class M, class... Args>
  M& emplace(Args&&... args) {
    auto child = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *child;
    push_back(std::move(child));
    return ref;
  }
  Sequential& push_back(std::unique_ptr<Module> child);
  std::size_t size() const { return owned_.size(); }
  Module& operator[](std::size_t i) const;
  Proxy forward(const Proxy& x) override;

 private:
  std::vector<std::unique_ptr<Module>> owned_;
};

}  // namespace quantkit::graph
