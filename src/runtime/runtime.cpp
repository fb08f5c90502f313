// The runtime's planner and run loop. Planning (once per Runtime):
//  1. graph::ExecutionPlan gives slots and steps; each node becomes an ExecOp: the NHWC
//     convolution kernels, the GEMM for linear layers, vectorized quantized add, the affine
//     quantize / dequantize kernels, views for flatten / reshape / observe, and the
//     interpreter's kernel for everything else (a fallback);
//  2. layouts: 4-D int8/uint8 tensors that a convolution reads or writes live channels-last
//     (NHWC); an op that needs the other layout gets a converted twin slot, made once where
//     it is first needed and shared by later readers; graph outputs are logical;
//  3. memory: every written slot gets an offset in one arena by liveness (plan_arena over
//     the op sequence, views extending their root's lifetime), plus per-thread scratch.
// Running binds the inputs, runs the ops in order and copies the outputs out.
#include "quantkit/runtime/runtime.h"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "exec.h"
#include "exec_ops.h"
#include "fused_ops.h"
#include "quantkit/core/error.h"
#include "quantkit/graph/execution_plan.h"
#include "quantkit/graph/verifier.h"
#include "thread_pool.h"

namespace quantkit::runtime {

using detail::ExecOp;
using detail::Layout;
using detail::SlotInfo;
using graph::ExecutionPlan;
using graph::Node;
using graph::OpKind;

namespace {

int checked_threads(int n) {
  check_argument(n >= 1 && n <= 256, "Runtime", "options.num_threads", n,
                 "a thread count in [1, 256]");
  return n;
}

bool is_quantized_image(const graph::TensorType& t) {
  return t.shape.size() == 4 && (t.dtype == DType::Int8 || t.dtype == DType::UInt8);
}

std::size_t storage_bytes(const graph::TensorType& t) {
  return static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype);
}

}  // namespace

void detail::Frame::bind_inputs(std::span<const Tensor> inputs,
                                std::span<const std::size_t> input_slots) {
  for (std::size_t i : input_slots) {
    SlotInfo& s = slots_[i];
    if (s.where == SlotInfo::Where::Input) {
      s.bound = &inputs[s.input_index];
      s.data = static_cast<std::byte*>(const_cast<void*>(s.bound->raw_data()));
    } else {  // a view of an input: its root comes earlier in the list
      s.data = slots_[s.root].data;
      s.tensor = Tensor::from_blob(s.data, s.type.shape, s.type.dtype);
    }
  }
}

void detail::Frame::unbind_inputs(std::span<const std::size_t> input_slots) {
  for (std::size_t i : input_slots) slots_[i].bound = nullptr;
}

struct Runtime::Plan {
  const graph::Graph& graph;  // static shapes
  RuntimeOptions options;
  detail::ThreadPool& pool;  // the Runtime's, shared by its plans
  ExecutionPlan plan;
  mutable std::vector<SlotInfo> slots;  // plan's slots first (same indices), then twins
  std::vector<std::unique_ptr<ExecOp>> ops;
  std::vector<std::size_t> outputs;       // logical slots of the graph outputs
  std::vector<std::size_t> input_bound;   // input slots and views of them, in slot order
  std::unordered_map<std::size_t, std::size_t> logical_twin, nhwc_twin;
  Tensor arena;
  mutable Tensor scratch;  // written by every run (under the mutex)
  std::size_t scratch_per_thread = 0;

  Plan(const graph::Graph& g, RuntimeOptions o, detail::ThreadPool& p)
      : graph(g), options(o), pool(p) {
    graph::verify(graph);
    plan = ExecutionPlan::build(graph);
    make_slots();
    for (const ExecutionPlan::Step& step : plan.steps) plan_step(step);
    for (std::size_t s : plan.output_slots) outputs.push_back(logical(s));
    assign_memory();
  }

  void make_slots() {
    slots.resize(plan.slots.size());
    for (std::size_t i = 0; i < plan.slots.size(); ++i) {
      const ExecutionPlan::Slot& p = plan.slots[i];
      SlotInfo& s = slots[i];
      s.type = p.value->type();
      s.name = p.value->name();
      s.root = i;
      switch (p.kind) {
        case ExecutionPlan::SlotKind::Input:
          s.where = SlotInfo::Where::Input;
          break;
        case ExecutionPlan::SlotKind::Data:
          s.where = SlotInfo::Where::Data;
          s.tensor = p.value->data();
          s.data = static_cast<std::byte*>(const_cast<void*>(s.tensor.raw_data()));
          break;
        case ExecutionPlan::SlotKind::NodeOutput:
          s.where = SlotInfo::Where::Arena;
          break;
      }
    }
    for (std::size_t i = 0; i < plan.input_slots.size(); ++i) {
      slots[plan.input_slots[i]].input_index = i;
    }
  }

  std::size_t add_twin(std::size_t of, Layout layout) {
    SlotInfo twin;
    twin.type = slots[of].type;
    twin.layout = layout;
    twin.where = SlotInfo::Where::Arena;
    twin.name = slots[of].name + (layout == Layout::Nhwc ? ".nhwc" : ".nchw");
    twin.root = slots.size();
    slots.push_back(std::move(twin));
    return slots.size() - 1;
  }

  // The slot holding `s` in the logical layout: itself, or a converted twin.
  std::size_t logical(std::size_t s) {
    if (slots[s].layout == Layout::Logical) return s;
    if (const auto it = logical_twin.find(s); it != logical_twin.end()) return it->second;
    const std::size_t twin = add_twin(s, Layout::Logical);
    ops.push_back(detail::make_layout_conversion(slots[s], s, twin, Layout::Logical));
    logical_twin.emplace(s, twin);
    return twin;
  }

  // The slot holding `s` (a 4-D int8/uint8 tensor) channels-last.
  std::size_t nhwc(std::size_t s) {
    if (slots[s].layout == Layout::Nhwc) return s;
    if (const auto it = nhwc_twin.find(s); it != nhwc_twin.end()) return it->second;
    const std::size_t twin = add_twin(s, Layout::Nhwc);
    ops.push_back(detail::make_layout_conversion(slots[s], s, twin, Layout::Nhwc));
    nhwc_twin.emplace(s, twin);
    return twin;
  }

  void make_view(std::size_t out, std::size_t of) {
    SlotInfo& s = slots[out];
    s.where = SlotInfo::Where::View;
    s.view_of = of;
    s.root = slots[of].root;
  }

  void plan_step(const ExecutionPlan::Step& step) {
    const Node& n = *step.node;
    const std::size_t in0 = step.inputs.empty() ? 0 : step.inputs[0];
    const std::size_t out = step.outputs.empty() ? 0 : step.outputs[0];
    std::unique_ptr<ExecOp> op;
    const OpKind kind = n.op();
    if (graph::op_schema(kind).traits.is_view && kind != OpKind::FakeQuantize) {
      // Free views of contiguous logical bytes; an NHWC [N, C, 1, 1] tensor has the same
      // bytes in both layouts. (fake_quantize computes: it runs as a fallback.)
      std::size_t src = in0;
      const SlotInfo& from = slots[in0];
      const bool same_bytes = from.layout == Layout::Logical ||
                              (from.type.shape[2] == 1 && from.type.shape[3] == 1);
      if (!same_bytes) src = logical(in0);
      make_view(out, src);
      return;
    }
    if (kind == OpKind::QuantizePerTensor) {
      op = detail::make_quantize(n, logical(in0), out);
    } else if (kind == OpKind::DequantizePerTensor) {
      op = detail::make_dequantize(n, logical(in0), out);
    } else if (kind == OpKind::QuantizedConv2d && is_quantized_image(slots[in0].type)) {
      op = detail::make_quantized_conv2d_nhwc(n, in0, out);
      if (op) {
        op->inputs[0] = nhwc(in0);
        slots[out].layout = Layout::Nhwc;
      }
    } else if ((kind == OpKind::MaxPool2d || kind == OpKind::QuantizedAvgPool2d ||
                kind == OpKind::QuantizedAdaptiveAvgPool2d) &&
               is_quantized_image(slots[in0].type)) {
      op = detail::make_pool2d_nhwc(n, in0, out);
      if (op) {
        op->inputs[0] = nhwc(in0);
        slots[out].layout = Layout::Nhwc;
      }
    } else if (kind == OpKind::QuantizedLinear) {
      op = detail::make_quantized_linear(n, logical(in0), out);
    } else if (kind == OpKind::QuantizedAdd || kind == OpKind::QuantizedMul) {
      const std::size_t b0 = step.inputs[1];
      const bool channels_last =
          is_quantized_image(slots[in0].type) && is_quantized_image(slots[b0].type) &&
          (slots[in0].layout == Layout::Nhwc || slots[b0].layout == Layout::Nhwc ||
           slots[in0].type.shape != slots[b0].type.shape);
      op = detail::make_quantized_binary(n, in0, b0, out, channels_last);
      if (op && channels_last) {
        op->inputs = {nhwc(in0), nhwc(b0)};
        slots[out].layout = Layout::Nhwc;
      } else if (op) {
        op->inputs = {logical(in0), logical(b0)};
      }
    } else if (kind == OpKind::QuantizedLut) {
      // Elementwise: runs in its input's layout.
      op = detail::make_quantized_lut(n, in0, out);
      if (op) slots[out].layout = slots[in0].layout;
    } else if (kind == OpKind::QuantizedConcat) {
      plan_concat(n, step, out, op);
    }
    if (!op) {
      std::vector<std::size_t> ins;
      for (std::size_t s : step.inputs) ins.push_back(logical(s));
      slots[out].layout = Layout::Logical;
      op = detail::make_fallback(n, std::move(ins), step.outputs, detail::plan_fused_op(n));
    }
    ops.push_back(std::move(op));
  }

  // Channels of NHWC images are concatenated in place of layout conversions when any input
  // already lives channels-last; otherwise the logical layout.
  void plan_concat(const Node& n, const ExecutionPlan::Step& step, std::size_t out,
                   std::unique_ptr<ExecOp>& op) {
    bool any_nhwc = false, all_images = true;
    for (std::size_t s : step.inputs) {
      any_nhwc = any_nhwc || slots[s].layout == Layout::Nhwc;
      all_images = all_images && is_quantized_image(slots[s].type);
    }
    std::int64_t dim = n.attr_int("dim");
    if (dim < 0) dim += static_cast<std::int64_t>(slots[out].type.shape.size());
    const bool channels_last = any_nhwc && all_images && dim == 1;
    std::vector<std::size_t> ins;
    for (std::size_t s : step.inputs) ins.push_back(channels_last ? nhwc(s) : logical(s));
    op = detail::make_quantized_concat(n, std::move(ins), out, channels_last);
    if (op && channels_last) slots[out].layout = Layout::Nhwc;
  }

  void assign_memory() {
    // Lifetimes over the op sequence; a read through a view is a read of its root.
    constexpr std::size_t kUnset = ExecutionPlan::kNever;
    std::vector<std::size_t> first(slots.size(), kUnset), last(slots.size(), kUnset);
    auto touch = [&](std::size_t s, std::size_t i) {
      const std::size_t r = slots[s].root;
      first[r] = first[r] == kUnset ? i : std::min(first[r], i);
      last[r] = last[r] == kUnset ? i : std::max(last[r], i);
    };
    for (std::size_t i = 0; i < ops.size(); ++i) {
      for (std::size_t s : ops[i]->inputs) touch(s, i);
      for (std::size_t s : ops[i]->outputs) touch(s, i);
      scratch_per_thread = std::max(scratch_per_thread, ops[i]->scratch_bytes_per_thread);
    }
    for (std::size_t s : outputs) touch(s, ops.size());  // read after the last op
    std::vector<graph::ArenaRequest> requests;
    std::vector<std::size_t> owners;
    for (std::size_t s = 0; s < slots.size(); ++s) {
      if (slots[s].where != SlotInfo::Where::Arena) continue;
      const std::size_t f = first[s] == kUnset ? 0 : first[s];
      requests.push_back({storage_bytes(slots[s].type), f, last[s] == kUnset ? f : last[s]});
      owners.push_back(s);
    }
    const graph::ArenaLayout layout = graph::plan_arena(requests);
    arena = Tensor::empty({static_cast<std::int64_t>(std::max<std::size_t>(layout.total_bytes, 1))},
                          DType::UInt8);
    auto* base = static_cast<std::byte*>(arena.raw_data());
    for (std::size_t i = 0; i < owners.size(); ++i) {
      slots[owners[i]].data = base + layout.offsets[i];
    }
    for (SlotInfo& s : slots) {  // views of arena or data slots share their root's bytes
      if (s.where == SlotInfo::Where::View && slots[s.root].where != SlotInfo::Where::Input) {
        s.data = slots[s.root].data;
      }
    }
    for (SlotInfo& s : slots) {
      if (s.where == SlotInfo::Where::Arena || (s.where == SlotInfo::Where::View &&
                                                slots[s.root].where != SlotInfo::Where::Input)) {
        const Shape shape = s.layout == Layout::Nhwc ? detail::nhwc_shape(s.type.shape)
                                                     : s.type.shape;
        s.tensor = Tensor::from_blob(s.data, shape, s.type.dtype);
      }
    }
    for (std::size_t i = 0; i < slots.size(); ++i) {
      if (slots[slots[i].root].where == SlotInfo::Where::Input) input_bound.push_back(i);
    }
    const std::size_t scratch_bytes =
        std::max<std::size_t>(1, scratch_per_thread * static_cast<std::size_t>(options.num_threads));
    scratch = Tensor::empty({static_cast<std::int64_t>(scratch_bytes)}, DType::UInt8);
  }

  void check_inputs(std::span<const Tensor> inputs) const {
    const auto graph_inputs = graph.inputs();
    check_argument(inputs.size() == graph_inputs.size(), "Runtime::run", "inputs",
                   inputs.size(), std::to_string(graph_inputs.size()) + " tensors");
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype() != graph_inputs[i]->dtype() ||
          inputs[i].shape() != graph_inputs[i]->shape()) {
        const graph::TensorType actual{inputs[i].dtype(), inputs[i].shape()};
        throw_invalid_argument("Runtime::run", "inputs[" + std::to_string(i) + "]",
                               actual.to_string(),
                               "a tensor of type " + graph_inputs[i]->type().to_string() +
                                   " for graph input '" + graph_inputs[i]->name() + "'");
      }
    }
  }

  template <typename Emit>
  void execute(std::span<const Tensor> inputs, Emit&& emit) const {
    check_inputs(inputs);  // the caller (Runtime::Impl) holds its mutex
    detail::Frame frame(slots, pool, static_cast<std::byte*>(scratch.raw_data()),
                        scratch_per_thread);
    frame.bind_inputs(inputs, input_bound);
    struct Unbind {
      detail::Frame& frame;
      std::span<const std::size_t> slots;
      ~Unbind() { frame.unbind_inputs(slots); }
    } unbind{frame, input_bound};
    for (const auto& op : ops) op->run(frame);
    for (std::size_t i = 0; i < outputs.size(); ++i) emit(i, frame.tensor(outputs[i]));
  }
};

// The Runtime: the plan of the declared shapes, and for a dynamic graph the plans of the
// last few other input shapes (each with the specialized graph it was built from).
struct Runtime::Impl {
  // A batched run uses two shapes (the batch size and the last, partial batch); more
  // distinct shapes replace the least recently used.
  static constexpr std::size_t kMaxCachedPlans = 4;
  struct Specialization {
    std::vector<Shape> shapes;
    std::unique_ptr<graph::Graph> graph;
    std::unique_ptr<Plan> plan;
  };

  const graph::Graph& graph;
  RuntimeOptions options;
  std::mutex mutex;  // one run at a time: the arenas and the pool are shared
  detail::ThreadPool pool;
  std::unique_ptr<Plan> declared;
  std::vector<Specialization> cache;  // most recently used last

  Impl(const graph::Graph& g, RuntimeOptions o)
      : graph(g),
        options(o),
        pool(checked_threads(o.num_threads)),
        declared(std::make_unique<Plan>(graph, options, pool)) {}

  // The plan for the inputs' shapes (the caller holds the mutex). No allocation when the
  // shapes are the declared ones or cached.
  const Plan& plan_for(std::span<const Tensor> inputs) {
    const auto graph_inputs = graph.inputs();
    auto has_shapes = [&](auto&& shape_of) {
      for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (inputs[i].shape() != shape_of(i)) return false;
      }
      return true;
    };
    if (!graph.has_dynamic_dims() || inputs.size() != graph_inputs.size() ||
        has_shapes([&](std::size_t i) -> const Shape& { return graph_inputs[i]->shape(); })) {
      return *declared;  // its check_inputs reports count, dtype and shape errors
    }
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].dtype() != graph_inputs[i]->dtype() ||
          !graph_inputs[i]->accepts_shape(inputs[i].shape())) {
        const graph::TensorType actual{inputs[i].dtype(), inputs[i].shape()};
        throw_invalid_argument("Runtime::run", "inputs[" + std::to_string(i) + "]",
                               actual.to_string(),
                               "a tensor of type " + graph_inputs[i]->type_string() +
                                   " for graph input '" + graph_inputs[i]->name() + "'");
      }
    }
    auto hit = std::find_if(cache.begin(), cache.end(), [&](const Specialization& s) {
      return has_shapes([&](std::size_t i) -> const Shape& { return s.shapes[i]; });
    });
    if (hit == cache.end()) {
      Specialization s;
      for (const Tensor& t : inputs) s.shapes.push_back(t.shape());
      s.graph = std::make_unique<graph::Graph>(graph.specialized(s.shapes));
      s.plan = std::make_unique<Plan>(*s.graph, options, pool);
      if (cache.size() == kMaxCachedPlans) cache.erase(cache.begin());
      cache.push_back(std::move(s));
      hit = cache.end() - 1;
    }
    std::rotate(hit, hit + 1, cache.end());
    return *cache.back().plan;
  }
};

Runtime::Runtime(const graph::Graph& graph, RuntimeOptions options)
    : impl_(std::make_unique<Impl>(graph, options)) {}
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;
Runtime::~Runtime() = default;

std::vector<Tensor> Runtime::run(std::span<const Tensor> inputs) const {
  std::vector<Tensor> results;
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->plan_for(inputs).execute(
      inputs, [&](std::size_t, const Tensor& t) { results.push_back(t.clone()); });
  return results;
}

void Runtime::run_into(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  const std::lock_guard<std::mutex> lock(impl_->mutex);
  const Plan& plan = impl_->plan_for(inputs);
  const auto graph_outputs = plan.graph.outputs();
  check_argument(outputs.size() == graph_outputs.size(), "Runtime::run_into", "outputs",
                 outputs.size(), std::to_string(graph_outputs.size()) + " tensors");
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].dtype() != graph_outputs[i]->dtype() ||
        outputs[i].shape() != graph_outputs[i]->shape()) {
      const graph::TensorType actual{outputs[i].dtype(), outputs[i].shape()};
      throw_invalid_argument("Runtime::run_into", "outputs[" + std::to_string(i) + "]",
                             actual.to_string(),
                             "a tensor of type " + graph_outputs[i]->type().to_string());
    }
  }
  plan.execute(inputs, [&](std::size_t i, const Tensor& t) {
    std::memcpy(outputs[i].raw_data(), t.raw_data(), t.nbytes());
  });
}

std::vector<std::string> Runtime::op_labels() const {
  std::vector<std::string> labels;
  for (const auto& op : impl_->declared->ops) labels.push_back(op->label);
  return labels;
}

std::size_t Runtime::arena_bytes() const { return impl_->declared->arena.nbytes(); }

}  // namespace quantkit::runtime
