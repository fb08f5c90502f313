#include "quantkit/graph/interpreter.h"

#include <algorithm>
#include <unordered_map>

#include "kernels/reference_ops.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/verifier.h"
#include "quantkit/quant/affine.h"
#include "quantkit/quant/choose_qparams.h"
#include "quantkit/quant/qparams.h"

namespace quantkit::graph {
namespace {

ref::ConvParams conv_params(const Node& n) {
  ref::ConvParams p;
  const auto& stride = n.attr_ints("stride");
  const auto& padding = n.attr_ints("padding");
  const auto& dilation = n.attr_ints("dilation");
  for (std::size_t d = 0; d < 2; ++d) {
    p.stride[d] = stride[d];
    p.padding[d] = padding[d];
    p.dilation[d] = dilation[d];
  }
  p.groups = n.attr_int("groups");
  return p;
}

ref::PoolParams pool_params(const Node& n, bool has_dilation) {
  ref::PoolParams p;
  const auto& kernel = n.attr_ints("kernel_size");
  const auto& stride = n.attr_ints("stride");
  const auto& padding = n.attr_ints("padding");
  for (std::size_t d = 0; d < 2; ++d) {
    p.kernel[d] = kernel[d];
    p.stride[d] = stride[d];
    p.padding[d] = padding[d];
    p.dilation[d] = has_dilation ? n.attr_ints("dilation")[d] : 1;
  }
  p.ceil_mode = n.attr_int("ceil_mode") != 0;
  return p;
}

std::optional<double> optional_float(const Node& n, std::string_view name) {
  return n.has_attr(name) ? std::optional<double>(n.attr_float(name)) : std::nullopt;
}

const Tensor* optional_input(std::span<const Tensor> inputs, std::size_t i) {
  return i < inputs.size() ? &inputs[i] : nullptr;
}

QuantRange range_of(const Node& n) {
  return QuantRange::of(n.attr_dtype("dtype"), n.attr_int("quant_min"), n.attr_int("quant_max"));
}

double scalar_as_double(const Tensor& t) {
  return visit_dtype(t.dtype(),
                     [&](auto zero) { return static_cast<double>(t.data<decltype(zero)>()[0]); });
}
std::int64_t scalar_as_int(const Tensor& t) {
  return visit_dtype(
      t.dtype(), [&](auto zero) { return static_cast<std::int64_t>(t.data<decltype(zero)>()[0]); });
}

// Per-tensor qparams from the attributes or from the 1-element scale / zero_point inputs.
std::pair<double, std::int64_t> per_tensor_qparams(const Node& n, std::span<const Tensor> in) {
  if (in.size() == 3) return {scalar_as_double(in[1]), scalar_as_int(in[2])};
  return {n.attr_float("scale"), n.attr_int("zero_point")};
}

std::vector<double> to_doubles(const Tensor& t) {
  std::vector<double> out(static_cast<std::size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto zero) {
    const auto* p = t.data<decltype(zero)>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<double>(p[i]);
  });
  return out;
}
std::vector<std::int64_t> to_int64s(const Tensor& t) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(t.numel()));
  visit_dtype(t.dtype(), [&](auto zero) {
    const auto* p = t.data<decltype(zero)>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::int64_t>(p[i]);
  });
  return out;
}

// quantized_decomposed.choose_qparams.tensor: min/max of x (widened to include 0 by the
// observer formula), then the per-tensor affine observer qparams.
std::vector<Tensor> choose_qparams(const Node& n, const Tensor& x) {
  if (x.numel() == 0) {
    throw Error("node '" + n.name() + "' (choose_qparams): input is empty, min/max undefined");
  }
  const float* p = x.data<float>();
  float lo = p[0], hi = p[0];
  for (std::int64_t i = 1; i < x.numel(); ++i) {
    lo = std::min(lo, p[i]);
    hi = std::max(hi, p[i]);
  }
  const QParams q = calculate_qparams(std::span<const float>(&lo, 1),
                                      std::span<const float>(&hi, 1), QScheme::PerTensorAffine,
                                      range_of(n), static_cast<float>(n.attr_float("eps")));
  return {Tensor::from_vector(std::vector<double>{q.scale[0]}, Shape{1}),
          Tensor::from_vector(std::vector<std::int64_t>{q.zero_point[0]}, Shape{1})};
}

ref::QuantizedParams quantized_params(const Node& n) {
  ref::QuantizedParams p;
  p.x_zero_point = n.attr_int("x_zero_point");
  p.out_zero_point = n.attr_int("out_zero_point");
  p.quant_min = n.attr_int("quant_min");
  p.quant_max = n.attr_int("quant_max");
  p.dtype = n.attr_dtype("dtype");
  return p;
}

Tensor dispatch(const Node& n, std::span<const Tensor> in) {
  switch (n.op()) {
    case OpKind::Linear:
      return ref::linear_f32(in[0], in[1], optional_input(in, 2));
    case OpKind::Conv2d:
      return ref::conv2d_f32(in[0], in[1], optional_input(in, 2), conv_params(n));
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
    case OpKind::Div:
      return ref::binary(n.op(), in[0], in[1]);
    case OpKind::Relu:
      return ref::relu(in[0]);
    case OpKind::Hardtanh:
      return ref::clamp(in[0], n.attr_float("min_val"), n.attr_float("max_val"));
    case OpKind::Clamp:
      return ref::clamp(in[0], optional_float(n, "min"), optional_float(n, "max"));
    case OpKind::MaxPool2d:
      return ref::max_pool2d(in[0], pool_params(n, true));
    case OpKind::AvgPool2d: {
      std::optional<std::int64_t> divisor;
      if (n.has_attr("divisor_override")) divisor = n.attr_int("divisor_override");
      return ref::avg_pool2d(in[0], pool_params(n, false), n.attr_int("count_include_pad") != 0,
                             divisor);
    }
    case OpKind::AdaptiveAvgPool2d: {
      const auto& size = n.attr_ints("output_size");
      return ref::adaptive_avg_pool2d(in[0], size[0], size[1]);
    }
    case OpKind::BatchNorm:
      return ref::batch_norm(in[0], in[1], in[2], in[3], in[4], n.attr_float("eps"));
    // Shape-only ops return views; the interpreter copies outputs that could alias.
    case OpKind::Flatten:
    case OpKind::Reshape:
      return in[0].reshape(n.output(0)->shape());
    case OpKind::Transpose:
      return ref::transpose(in[0], n.attr_int("dim0"), n.attr_int("dim1"));
    case OpKind::Cat:
      return ref::cat(in, n.attr_int("dim"));
    case OpKind::Softmax:
      return ref::softmax(in[0], n.attr_int("dim"));
    case OpKind::QuantizePerTensor: {
      const auto [scale, zp] = per_tensor_qparams(n, in);
      return quantize_per_tensor(in[0], scale, zp, range_of(n));
    }
    case OpKind::DequantizePerTensor: {
      const auto [scale, zp] = per_tensor_qparams(n, in);
      return dequantize_per_tensor(in[0], scale, zp);
    }
    case OpKind::QuantizePerChannel:
      return quantize_per_channel(in[0], to_doubles(in[1]), to_int64s(in[2]), n.attr_int("axis"),
                                  range_of(n));
    case OpKind::DequantizePerChannel:
      return dequantize_per_channel(in[0], to_doubles(in[1]), to_int64s(in[2]), n.attr_int("axis"));
    case OpKind::ChooseQParams:
      break;  // two outputs: handled by evaluate_node
    case OpKind::Cast:
      return ref::cast(in[0], n.attr_dtype("dtype"));
    case OpKind::Round:
      return ref::round_half_even(in[0]);
    case OpKind::IntegerLinear:
      return ref::integer_linear(in[0], in[1], optional_input(in, 2));
    case OpKind::IntegerConv2d:
      return ref::integer_conv2d(in[0], in[1], optional_input(in, 2), conv_params(n));
    case OpKind::Requantize:
      return ref::requantize(in[0], n.attr_float("scale"), n.attr_int("zero_point"),
                             n.attr_int("quant_min"), n.attr_int("quant_max"),
                             n.attr_dtype("dtype"));
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::HardSwish:
      return ref::unary_activation(n.op(), in[0]);
    case OpKind::HardSigmoid:
      return ref::unary_activation(n.op(), in[0], n.attr_float("alpha"), n.attr_float("beta"));
    case OpKind::LeakyRelu:
      return ref::unary_activation(n.op(), in[0], n.attr_float("negative_slope"));
    case OpKind::MatMul:
      return ref::matmul_f32(in[0], in[1], n.output(0)->shape());
    case OpKind::Pad2d:
      return ref::pad2d(in[0], n.attr_ints("pads"), n.attr_float("value"));
    case OpKind::Observe:
      return in[0];  // identity; calibration reads it through the stateful kernel
    case OpKind::FakeQuantize:
      throw Error("fake_quantize needs its fake-quant module: run the graph through its "
                  "PT2E prepared model (or install Interpreter::set_stateful_kernel)");
    case OpKind::ApotDequantize: {
      const auto& levels = n.attr_floats("levels");
      Tensor out = Tensor::empty(in[0].shape(), DType::Float32);
      const auto* codes = in[0].data<std::int32_t>();
      float* o = out.data<float>();
      for (std::int64_t i = 0; i < out.numel(); ++i) {
        const std::int32_t c = codes[i];
        if (c < 0 || static_cast<std::size_t>(c) >= levels.size()) {
          throw Error("apot_dequantize: code " + std::to_string(c) + " at position " +
                      std::to_string(i) + " is not a level index (there are " +
                      std::to_string(levels.size()) + " levels)");
        }
        o[i] = static_cast<float>(levels[static_cast<std::size_t>(c)]);
      }
      return out;
    }
    case OpKind::QuantizedLinear:
      return ref::quantized_linear(in[0], in[1], in[2], in[3], quantized_params(n));
    case OpKind::QuantizedConv2d:
      return ref::quantized_conv2d(in[0], in[1], in[2], in[3], conv_params(n),
                                   quantized_params(n));
    case OpKind::QuantizedAdd: {
      ref::QuantizedAddParams p;
      p.a_zero_point = n.attr_int("a_zero_point");
      p.a_multiplier = n.attr_float("a_multiplier");
      p.b_zero_point = n.attr_int("b_zero_point");
      p.b_multiplier = n.attr_float("b_multiplier");
      p.out.out_zero_point = n.attr_int("out_zero_point");
      p.out.quant_min = n.attr_int("quant_min");
      p.out.quant_max = n.attr_int("quant_max");
      p.out.dtype = n.attr_dtype("dtype");
      p.round_half_even = n.attr_string("rounding") == "half_even";
      return ref::quantized_add(in[0], in[1], p);
    }
    case OpKind::DynamicQuantizedLinear:
      return ref::dynamic_quantized_linear(in[0], in[1], in[2], optional_input(in, 3),
                                           n.attr_int("quant_min"), n.attr_int("quant_max"),
                                           n.attr_float("eps"));
  }
  throw Error("interpreter: no kernel for op '" + std::string(op_name(n.op())) + "'");
}

bool may_alias_inputs(const Value* v) {
  if (v->kind() != ValueKind::NodeOutput) return true;
  const OpKind op = v->producer()->op();
  return op == OpKind::Flatten || op == OpKind::Reshape || op == OpKind::Observe ||
         op == OpKind::FakeQuantize;
}

}  // namespace

std::vector<Tensor> evaluate_node(const Node& node, std::span<const Tensor> inputs) {
  check_argument(inputs.size() == node.num_inputs(), "evaluate_node", "inputs", inputs.size(),
                 std::to_string(node.num_inputs()) + " tensors for node '" + node.name() + "'");
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorType actual{inputs[i].dtype(), inputs[i].shape()};
    if (actual != node.input(i)->type()) {
      throw Error("evaluate_node: node '" + node.name() + "' input " + std::to_string(i) + " is " +
                  actual.to_string() + ", expected " + node.input(i)->type().to_string());
    }
  }
  try {
    if (node.op() == OpKind::ChooseQParams) return choose_qparams(node, inputs[0]);
    std::vector<Tensor> out;
    out.push_back(dispatch(node, inputs));
    return out;
  } catch (const Error& e) {
    const std::string message = e.what();
    if (message.starts_with("node '")) throw;
    throw Error("node '" + node.name() + "' (" + std::string(op_name(node.op())) + "): " + message);
  }
}

Interpreter::Interpreter(const Graph& graph) : graph_(graph) {
  verify(graph_);
  std::unordered_map<const Value*, std::size_t> slot;
  auto assign = [&](const Value* v) {
    slot.emplace(v, num_slots_);
    return num_slots_++;
  };
  for (const Value* v : graph_.inputs()) input_slots_.push_back(assign(v));
  for (const Value* v : graph_.parameters()) data_slots_.emplace_back(assign(v), v);
  for (const Value* v : graph_.constants()) data_slots_.emplace_back(assign(v), v);
  for (const Node* n : graph_.nodes()) {
    Step step{n, {}, {}, {}};
    for (const Value* in : n->inputs()) step.inputs.push_back(slot.at(in));
    for (const Value* out : n->outputs()) step.outputs.push_back(assign(out));
    steps_.push_back(std::move(step));
  }
  for (const Value* v : graph_.outputs()) output_slots_.push_back(slot.at(v));
  // Release each slot after its last reader, unless it is a graph output.
  std::vector<std::ptrdiff_t> last_use(num_slots_, -1);
  for (std::size_t s = 0; s < steps_.size(); ++s) {
    for (std::size_t in : steps_[s].inputs) last_use[in] = static_cast<std::ptrdiff_t>(s);
  }
  for (std::size_t out : output_slots_) last_use[out] = -1;
  for (std::size_t v = 0; v < num_slots_; ++v) {
    if (last_use[v] >= 0) steps_[static_cast<std::size_t>(last_use[v])].release.push_back(v);
  }
}

std::vector<Tensor> Interpreter::run(std::span<const Tensor> inputs) const {
  const auto graph_inputs = graph_.inputs();
  check_argument(inputs.size() == graph_inputs.size(), "Interpreter::run", "inputs", inputs.size(),
                 std::to_string(graph_inputs.size()) + " tensors");
  std::vector<Tensor> slots(num_slots_);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const TensorType actual{inputs[i].dtype(), inputs[i].shape()};
    if (actual != graph_inputs[i]->type()) {
      throw_invalid_argument("Interpreter::run", "inputs[" + std::to_string(i) + "]",
                             actual.to_string(),
                             "a tensor of type " + graph_inputs[i]->type().to_string() +
                                 " for graph input '" + graph_inputs[i]->name() + "'");
    }
    slots[input_slots_[i]] = inputs[i];
  }
  for (const auto& [s, v] : data_slots_) slots[s] = v->data();
  std::vector<Tensor> args;
  for (const Step& step : steps_) {
    args.clear();
    for (std::size_t s : step.inputs) args.push_back(slots[s]);
    const OpKind op = step.node->op();
    std::vector<Tensor> results;
    if (stateful_ && (op == OpKind::Observe || op == OpKind::FakeQuantize)) {
      try {
        results.push_back(stateful_(*step.node, args[0]));
      } catch (const Error& e) {
        // An observer's message names only its argument ("x[0]"): say which node and which
        // tensor (the layer output or input it observes) it was.
        throw Error("node '" + step.node->name() + "' (" + std::string(op_name(op)) + " of '" +
                    step.node->input(0)->name() + "'): " + e.what());
      }
    } else {
      results = evaluate_node(*step.node, args);
    }
    for (std::size_t i = 0; i < results.size(); ++i) slots[step.outputs[i]] = std::move(results[i]);
    if (observer_) {
      std::vector<Tensor> outs;
      for (std::size_t s : step.outputs) outs.push_back(slots[s]);
      observer_(*step.node, outs);
    }
    for (std::size_t s : step.release) slots[s] = Tensor();
  }
  std::vector<Tensor> outputs;
  const auto graph_outputs = graph_.outputs();
  for (std::size_t i = 0; i < output_slots_.size(); ++i) {
    const Tensor& t = slots[output_slots_[i]];
    outputs.push_back(may_alias_inputs(graph_outputs[i]) ? t.clone() : t);
  }
  return outputs;
}

std::vector<Tensor> run_graph(const Graph& graph, std::span<const Tensor> inputs) {
  return Interpreter(graph).run(inputs);
}

}  // namespace quantkit::graph
