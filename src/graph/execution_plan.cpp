#include "quantkit/graph/execution_plan.h"

#include <algorithm>
#include <numeric>

#include "quantkit/core/error.h"
#include "quantkit/graph/op.h"

namespace quantkit::graph {

bool op_output_may_alias_input(OpKind op) { return op_schema(op).traits.is_view; }

ExecutionPlan ExecutionPlan::build(const Graph& graph) {
  ExecutionPlan plan;
  auto add = [&](const Value* v, SlotKind kind) {
    Slot s;
    s.value = v;
    s.kind = kind;
    s.root = plan.slots.size();
    plan.slots.push_back(s);
    plan.index_.emplace(v, plan.slots.size() - 1);
    return plan.slots.size() - 1;
  };
  for (const Value* v : graph.inputs()) plan.input_slots.push_back(add(v, SlotKind::Input));
  for (const Value* v : graph.parameters()) plan.data_slots.push_back(add(v, SlotKind::Data));
  for (const Value* v : graph.constants()) plan.data_slots.push_back(add(v, SlotKind::Data));
  for (const Node* n : graph.nodes()) {
    Step step;
    step.node = n;
    for (const Value* in : n->inputs()) step.inputs.push_back(plan.slot_of(in));
    const std::size_t step_index = plan.steps.size();
    for (const Value* out : n->outputs()) {
      const std::size_t s = add(out, SlotKind::NodeOutput);
      plan.slots[s].producer = step_index;
      step.outputs.push_back(s);
    }
    if (op_output_may_alias_input(n->op()) && !step.inputs.empty() && step.outputs.size() == 1) {
      Slot& out = plan.slots[step.outputs[0]];
      out.view_of = step.inputs[0];
      out.root = plan.slots[step.inputs[0]].root;
    }
      plan.steps.push_back(std::move(step));
  }
  for (const Value* v : graph.outputs()) plan.output_slots.push_back(plan.slot_of(v));

  // Lifetimes: a read of a slot is a read of its root's storage.
  std::vector<bool> forever(plan.slots.size(), false);
  for (std::size_t s : plan.output_slots) forever[plan.slots[s].root] = true;
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    for (std::size_t s : plan.steps[i].inputs) {
      Slot& root = plan.slots[plan.slots[s].root];
      root.last_use = root.last_use == kNever ? i : std::max(root.last_use, i);
    }
  }
  for (std::size_t s = 0; s < plan.slots.size(); ++s) {
    Slot& slot = plan.slots[s];
    if (slot.root != s) slot.last_use = plan.slots[slot.root].last_use;  // informational
    if (forever[slot.root]) slot.last_use = kNever;
  }
  for (std::size_t s = 0; s < plan.slots.size(); ++s) {
    const Slot& slot = plan.slots[s];
    if (slot.last_use != kNever) plan.steps[slot.last_use].release.push_back(s);
  }
  return plan;
}

std::size_t ExecutionPlan::slot_of(const Value* value) const {
  const auto it = index_.find(value);
  if (it == index_.end()) {
    throw Error("ExecutionPlan: value '" + (value ? value->name() : std::string("null")) +
                "' is not a value of the planned graph");
  }
  return it->second;
}

ArenaLayout plan_arena(std::span<const ArenaRequest> requests, std::size_t alignment) {
  check_argument(alignment > 0 && (alignment & (alignment - 1)) == 0, "plan_arena", "alignment",
                 alignment, "a power of two");
  ArenaLayout layout;
  layout.offsets.assign(requests.size(), 0);
  std::vector<std::size_t> order(requests.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return requests[a].bytes > requests[b].bytes;
  });
  auto round_up = [alignment](std::size_t n) { return (n + alignment - 1) & ~(alignment - 1); };
  std::vector<std::size_t> placed;  // requests already given an offset, sorted by offset
  for (std::size_t r : order) {
    const ArenaRequest& req = requests[r];
    check_argument(req.first <= req.last, "plan_arena", "requests[" + std::to_string(r) + "]",
                   std::to_string(req.first) + ".." + std::to_string(req.last),
                   "a lifetime with first <= last");
    const std::size_t size = round_up(req.bytes);
    std::size_t offset = 0;
    for (std::size_t p : placed) {
      const ArenaRequest& other = requests[p];
      const bool overlap = !(other.last < req.first || req.last < other.first);
      if (!overlap) continue;
      const std::size_t other_begin = layout.offsets[p];
      const std::size_t other_end = other_begin + round_up(other.bytes);
      if (offset + size <= other_begin) break;  // fits in the gap before `other`
      offset = std::max(offset, other_end);
    }
    layout.offsets[r] = offset;
    layout.total_bytes = std::max(layout.total_bytes, offset + size);
    const auto pos = std::upper_bound(placed.begin(), placed.end(), offset,
                                      [&](std::size_t off, std::size_t p) {
                                        return off < layout.offsets[p];
                                      });
    placed.insert(pos, r);
  }
  return layout;
}

}  // namespace quantkit::graph
