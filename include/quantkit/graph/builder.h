#pragma once
// GraphBuilder: the direct way to write a graph, one call per op.
//
//   GraphBuilder b;
//   Value* x = b.input("x", DType::Float32, {1, 3, 8, 8});
//   Value* w = b.parameter("conv.weight", weight);
//   Value* y = b.relu(b.conv2d(x, w, nullptr, {.padding = {1, 1}}));
//   b.output(y);
//   Graph g = std::move(b).build();   // verified
//
// Every op method writes all of the op's attributes out (defaults included) and types its
// result through the op's inference, so errors surface at the call that makes them, naming
// the node. Node names follow FX: the op name, made unique ("relu", "relu_1").
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "quantkit/graph/graph.h"

namespace quantkit::graph {

// Options in torch.nn's positional order: Conv2dOptions({2, 2}, {1, 1}) is stride 2,
// padding 1. Pair-valued options take exactly two entries (height, width).
struct Conv2dOptions {
  Conv2dOptions() = default;
  explicit Conv2dOptions(std::vector<std::int64_t> stride_hw,
                         std::vector<std::int64_t> padding_hw = {0, 0},
                         std::vector<std::int64_t> dilation_hw = {1, 1}, std::int64_t groups_ = 1)
      : stride(std::move(stride_hw)),
        padding(std::move(padding_hw)),
        dilation(std::move(dilation_hw)),
        groups(groups_) {}

  std::vector<std::int64_t> stride{1, 1};
  std::vector<std::int64_t> padding{0, 0};
  std::vector<std::int64_t> dilation{1, 1};
  std::int64_t groups = 1;
};

struct MaxPool2dOptions {
  explicit MaxPool2dOptions(std::vector<std::int64_t> kernel_hw,
                            std::vector<std::int64_t> stride_hw = {},
                            std::vector<std::int64_t> padding_hw = {0, 0},
                            std::vector<std::int64_t> dilation_hw = {1, 1}, bool ceil = false)
      : kernel_size(std::move(kernel_hw)),
        stride(std::move(stride_hw)),
        padding(std::move(padding_hw)),
        dilation(std::move(dilation_hw)),
        ceil_mode(ceil) {}

  std::vector<std::int64_t> kernel_size;
  std::vector<std::int64_t> stride;  // empty: the kernel size (torch's default)
  std::vector<std::int64_t> padding{0, 0};
  std::vector<std::int64_t> dilation{1, 1};
  bool ceil_mode = false;
};

struct AvgPool2dOptions {
  explicit AvgPool2dOptions(std::vector<std::int64_t> kernel_hw,
                            std::vector<std::int64_t> stride_hw = {},
                            std::vector<std::int64_t> padding_hw = {0, 0}, bool ceil = false,
                            bool include_pad = true,
                            std::optional<std::int64_t> divisor = std::nullopt)
      : kernel_size(std::move(kernel_hw)),
        stride(std::move(stride_hw)),
        padding(std::move(padding_hw)),
        ceil_mode(ceil),
        count_include_pad(include_pad),
        divisor_override(divisor) {}

  std::vector<std::int64_t> kernel_size;
  std::vector<std::int64_t> stride;  // empty: the kernel size
  std::vector<std::int64_t> padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;
  std::optional<std::int64_t> divisor_override;
};

// Quantization parameters of a per-tensor quantize/dequantize given as attributes.
struct QuantizeAttrs {
  double scale = 1.0;
  std::int64_t zero_point = 0;
  std::int64_t quant_min = -128;
  std::int64_t quant_max = 127;
  DType dtype = DType::Int8;
};

class GraphBuilder {
 public:
  GraphBuilder() = default;

  // ---- definitions ----
  Value* input(std::string name, DType dtype, Shape shape);
  // An input with dynamic dims (Graph::add_input): dim_names[d] names dim d, "" if static.
  Value* input(std::string name, DType dtype, Shape shape, std::vector<std::string> dim_names);
  Value* parameter(std::string name, Tensor data);
  Value* constant(Tensor data, std::string_view name_hint = "const");

  // Nodes created from now on carry this source (module path and type); see SourceInfo.
  void set_source(SourceInfo source) { source_ = std::move(source); }
  const SourceInfo& source() const { return source_; }

  // ---- float ops ----
  Value* linear(Value* x, Value* weight, Value* bias = nullptr);
  Value* conv2d(Value* x, Value* weight, Value* bias = nullptr, const Conv2dOptions& options = {});
  Value* add(Value* a, Value* b);
  Value* sub(Value* a, Value* b);
  Value* mul(Value* a, Value* b);
  Value* div(Value* a, Value* b);
  Value* relu(Value* x);
  Value* hardtanh(Value* x, double min_val = -1.0, double max_val = 1.0);
  Value* clamp(Value* x, std::optional<double> min, std::optional<double> max);
  Value* max_pool2d(Value* x, const MaxPool2dOptions& options);
  Value* avg_pool2d(Value* x, const AvgPool2dOptions& options);
  Value* adaptive_avg_pool2d(Value* x, std::vector<std::int64_t> output_size);
  Value* batch_norm(Value* x, Value* weight, Value* bias, Value* running_mean, Value* running_var,
                    double eps = 1e-5);
  // torch.flatten's defaults (nn.Flatten uses start_dim = 1).
  Value* flatten(Value* x, std::int64_t start_dim = 0, std::int64_t end_dim = -1);
  Value* reshape(Value* x, std::vector<std::int64_t> shape);
  Value* transpose(Value* x, std::int64_t dim0, std::int64_t dim1);
  Value* cat(std::vector<Value*> xs, std::int64_t dim = 0);
  Value* softmax(Value* x, std::int64_t dim);

  // ---- quantization ----
  Value* quantize_per_tensor(Value* x, const QuantizeAttrs& q);
  Value* dequantize_per_tensor(Value* q, const QuantizeAttrs& qparams);
  // The .tensor overloads: scale and zero_point are 1-element values (e.g. choose_qparams').
  Value* quantize_per_tensor(Value* x, Value* scale, Value* zero_point, std::int64_t quant_min,
                             std::int64_t quant_max, DType dtype);
  Value* dequantize_per_tensor(Value* q, Value* scale, Value* zero_point, std::int64_t quant_min,
                               std::int64_t quant_max, DType dtype);
  Value* quantize_per_channel(Value* x, Value* scales, Value* zero_points, std::int64_t axis,
                              std::int64_t quant_min, std::int64_t quant_max, DType dtype);
  Value* dequantize_per_channel(Value* q, Value* scales, Value* zero_points, std::int64_t axis,
                                std::int64_t quant_min, std::int64_t quant_max, DType dtype);
  // Returns (scale, zero_point).
  std::pair<Value*, Value*> choose_qparams(Value* x, std::int64_t quant_min, std::int64_t quant_max,
                                           double eps, DType dtype);

  // ---- integer reference ops ----
  Value* cast(Value* x, DType dtype);
  Value* round(Value* x);
  Value* integer_linear(Value* x, Value* weight, Value* bias = nullptr);
  Value* integer_conv2d(Value* x, Value* weight, Value* bias = nullptr,
                        const Conv2dOptions& options = {});

  // Any op, for code that maps op kinds generically (e.g. importers).
  Node* node(OpKind op, std::vector<Value*> inputs, AttributeMap attrs = {},
             std::string_view name_hint = {});

  void output(Value* value);

  Graph& graph() { return graph_; }
  // Verifies and hands over the graph; the builder is empty afterwards.
  Graph build() &&;
  Graph build() & = delete;  // use std::move(builder).build()

 private:
  Value* single(OpKind op, std::vector<Value*> inputs, AttributeMap attrs = {});

  Graph graph_;
  SourceInfo source_;
};

}  // namespace quantkit::graph
