#pragma once
// The execution plan of a graph, shared by the interpreter and the runtime: every value gets
// a slot, every node a step (in the graph's node order, which the verifier guarantees is
// topological), and every slot its lifetime — the step that produces it and the last step
// that reads it, directly or through views of it. The runtime adds arena offsets with
// plan_arena; the interpreter releases each tensor after its last use.
//
// Views: an op whose output may share its first input's storage (OpTraits::is_view:
// flatten, reshape, observe, fake_quantize) makes a view slot; the storage of a slot and all its views lives
// until the last of them is read (`last_use` of the root slot covers its views).
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <unordered_map>
#include <vector>

#include "quantkit/graph/graph.h"

namespace quantkit::graph {

// Whether `op`'s output may share storage with its first input: op_schema(op).traits.is_view.
bool op_output_may_alias_input(OpKind op);

struct ExecutionPlan {
  static constexpr std::size_t kNever = std::numeric_limits<std::size_t>::max();

  enum class SlotKind { Input, Data, NodeOutput };
  struct Slot {
    const Value* value = nullptr;
    SlotKind kind = SlotKind::NodeOutput;
    std::size_t producer = kNever;  // step that writes it (NodeOutput only)
    // Last step reading this slot or one of its views; kNever when it is (or a view of it
    // is) a graph output, or when nothing reads it.
    std::size_t last_use = kNever;
    std::size_t view_of = kNever;      // the slot whose storage this one may share
    std::size_t root = kNever;         // end of the view_of chain (itself when not a view)
  };
  struct Step {
    const Node* node = nullptr;
    std::vector<std::size_t> inputs;   // slots, in the node's input order
    std::vector<std::size_t> outputs;  // slots, in the node's output order
    std::vector<std::size_t> release;  // slots (roots and their views) dead after this step
  };

  std::vector<Slot> slots;
  std::vector<Step> steps;
  std::vector<std::size_t> input_slots;   // graph inputs, in order
  std::vector<std::size_t> data_slots;    // parameters and constants
  std::vector<std::size_t> output_slots;  // graph outputs, in order

  // Builds the plan of a verified graph (the graph must outlive it).
  static ExecutionPlan build(const Graph& graph);
  // The slot of a value of the graph; throws Error for a value of another graph.
  std::size_t slot_of(const Value* value) const;

 private:
  std::unordered_map<const Value*, std::size_t> index_;
};

// Offsets of buffers with overlapping lifetimes in one arena: each request lives from step
// `first` to step `last` (inclusive); two requests share bytes only when their lifetimes are
// disjoint. Greedy by size (largest first, lowest fitting offset: TFLite's arena planner's
// strategy). Every offset is a multiple of `alignment`.
struct ArenaRequest {
  std::size_t bytes = 0;
  std::size_t first = 0;
  std::size_t last = 0;
};
struct ArenaLayout {
  std::vector<std::size_t> offsets;  // one per request
  std::size_t total_bytes = 0;
};
ArenaLayout plan_arena(std::span<const ArenaRequest> requests, std::size_t alignment = 64);

}  // namespace quantkit::graph
