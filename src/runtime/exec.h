#pragma once
// The runtime's execution state: slots (every value the plan knows, graph values and the
// layout twins the planner adds), the frame one run() works in, and the op interface.
//
// Memory: every slot a node writes lives in ONE arena allocated when the plan is built,
// at an offset chosen by liveness (graph::plan_arena); graph inputs are read where the
// caller keeps them, constants where the graph keeps them, views share their root's bytes.
// Each slot holds a Tensor view over its bytes made at planning, so a run builds no tensor
// and allocates nothing (fallback ops excepted: they call the interpreter's kernels).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/graph/graph.h"
#include "thread_pool.h"

namespace quantkit::runtime::detail {

// Logical: the graph's row-major layout (NCHW for images). Nhwc: a 4-D int8/uint8 tensor
// stored channels-last ([N, H, W, C] bytes for logical [N, C, H, W]).
enum class Layout : std::uint8_t { Logical, Nhwc };

struct SlotInfo {
  enum class Where : std::uint8_t { Input, Data, Arena, View };
  graph::TensorType type;  // logical dtype and shape
  Layout layout = Layout::Logical;
  Where where = Where::Arena;
  std::size_t input_index = 0;  // Where::Input
  std::size_t view_of = 0;      // Where::View: the slot whose bytes this one shares
  std::size_t root = 0;         // end of the view chain (itself unless a view)
  // Where::Arena / Data / View of those: the bytes and a tensor over them (physical shape:
  // [N, H, W, C] for Nhwc). Input slots (and views of inputs) resolve per run.
  std::byte* data = nullptr;
  Tensor tensor;
  const Tensor* bound = nullptr;  // Where::Input: the caller's tensor during a run
  std::string name;  // for messages and profiles
};

// Logical [N, C, H, W] → physical [N, H, W, C].
inline Shape nhwc_shape(const Shape& nchw) { return {nchw[0], nchw[2], nchw[3], nchw[1]}; }

class Frame {
 public:
  Frame(std::vector<SlotInfo>& slots, ThreadPool& pool, std::byte* scratch,
        std::size_t scratch_per_thread)
      : slots_(slots), pool_(pool), scratch_(scratch), scratch_per_thread_(scratch_per_thread) {}

  // Binds the run's inputs: `input_slots` (input slots, then views of them, in slot order)
  // point at the caller's tensors (no copy); views of inputs get a tensor over the caller's
  // bytes (the one allocation a run may make). unbind_inputs forgets them.
  void bind_inputs(std::span<const Tensor> inputs, std::span<const std::size_t> input_slots);
  void unbind_inputs(std::span<const std::size_t> input_slots);

  const Tensor& tensor(std::size_t slot) const {
    const SlotInfo& s = slots_[slot];
    return s.bound != nullptr ? *s.bound : s.tensor;
  }
  Tensor& mutable_tensor(std::size_t slot) { return slots_[slot].tensor; }
  const std::byte* in(std::size_t slot) const { return slots_[slot].data; }
  std::byte* out(std::size_t slot) const { return slots_[slot].data; }
  const SlotInfo& slot(std::size_t s) const { return slots_[s]; }
  ThreadPool& pool() const { return pool_; }
  // Per-thread scratch of the plan's largest request; `chunk` is the thread's chunk index.
  std::byte* scratch(int chunk) const {
    return scratch_ + static_cast<std::size_t>(chunk) * scratch_per_thread_;
  }

 private:
  std::vector<SlotInfo>& slots_;
  ThreadPool& pool_;
  std::byte* scratch_;
  std::size_t scratch_per_thread_;
};

class ExecOp {
 public:
  virtual ~ExecOp() = default;
  virtual void run(Frame& frame) const = 0;
  // Slots read and written (the planner's liveness), and per-thread scratch bytes.
  std::vector<std::size_t> inputs, outputs;
  std::size_t scratch_bytes_per_thread = 0;
  std::string label;  // "quantized_conv2d 'conv1' (nhwc igemm)": profiles and tests
};

}  // namespace quantkit::runtime::detail
