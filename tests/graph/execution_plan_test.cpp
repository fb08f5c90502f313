// graph::ExecutionPlan (slots, steps, lifetimes through views, releases) and
// graph::plan_arena (liveness-based offsets), which the interpreter and the runtime share.
#include "quantkit/graph/execution_plan.h"

#include <gtest/gtest.h>

#include <random>

#include "quantkit/core/error.h"
#include "quantkit/graph/builder.h"

namespace quantkit::graph {
namespace {

using Plan = ExecutionPlan;

TEST(ExecutionPlan, SlotsStepsAndLifetimes) {
  GraphBuilder b;
  Value* x = b.input("x", DType::Float32, {2, 3, 4});
  Value* r = b.relu(x);             // step 0
  Value* f = b.flatten(r, 1);       // step 1: a view of r
  Value* s = b.relu(x);             // step 2
  Value* a = b.add(f, b.flatten(s, 1));  // steps 3 (view of s) and 4
  b.output(a);
  const Graph g = std::move(b).build();
  const Plan p = Plan::build(g);
  ASSERT_EQ(p.steps.size(), 5u);
  ASSERT_EQ(p.input_slots.size(), 1u);
  const std::size_t xs = p.input_slots[0];
  const std::size_t rs = p.steps[0].outputs[0], fs = p.steps[1].outputs[0];
  const std::size_t ss = p.steps[2].outputs[0], as = p.steps[4].outputs[0];
  EXPECT_EQ(p.slots[xs].kind, Plan::SlotKind::Input);
  EXPECT_EQ(p.slots[rs].producer, 0u);
  EXPECT_EQ(p.slots[fs].view_of, rs);
  EXPECT_EQ(p.slots[fs].root, rs);
  EXPECT_EQ(p.slots[rs].root, rs);
  // r's storage is read through its view f by step 4: it lives until then.
  EXPECT_EQ(p.slots[rs].last_use, 4u);
  EXPECT_EQ(p.slots[fs].last_use, 4u);
  EXPECT_EQ(p.slots[ss].last_use, 4u);
  EXPECT_EQ(p.slots[xs].last_use, 2u);
  // The graph output is never released.
  EXPECT_EQ(p.slots[as].last_use, Plan::kNever);
  EXPECT_EQ(p.output_slots, std::vector<std::size_t>{as});
  for (const auto& step : p.steps) {
    for (std::size_t rel : step.release) EXPECT_NE(rel, as);
  }
  // Step 4 releases r, its view, s and s's view; step 2 releases x.
  std::vector<std::size_t> rel4 = p.steps[4].release;
  std::sort(rel4.begin(), rel4.end());
  EXPECT_EQ(rel4.size(), 4u);
  EXPECT_EQ(p.steps[2].release, std::vector<std::size_t>{xs});
  EXPECT_EQ(p.slot_of(a), as);
}

TEST(ExecutionPlan, ValueOfAnotherGraphIsAnError) {
  GraphBuilder b1, b2;
  Value* x = b1.input("x", DType::Float32, {2});
  b1.output(b1.relu(x));
  Value* y = b2.input("y", DType::Float32, {2});
  b2.output(b2.relu(y));
  const Graph g1 = std::move(b1).build();
  const Graph g2 = std::move(b2).build();
  const Plan p = Plan::build(g1);
  EXPECT_THROW(p.slot_of(g2.inputs()[0]), Error);
}

// Requests whose lifetimes overlap never share a byte; offsets are aligned.
void expect_valid(const std::vector<ArenaRequest>& req, const ArenaLayout& layout,
                  std::size_t alignment) {
  ASSERT_EQ(layout.offsets.size(), req.size());
  for (std::size_t i = 0; i < req.size(); ++i) {
    EXPECT_EQ(layout.offsets[i] % alignment, 0u);
    EXPECT_LE(layout.offsets[i] + req[i].bytes, layout.total_bytes);
    for (std::size_t j = i + 1; j < req.size(); ++j) {
      const bool live_together = !(req[i].last < req[j].first || req[j].last < req[i].first);
      const bool bytes_overlap =
          req[i].bytes > 0 && req[j].bytes > 0 &&
          layout.offsets[i] < layout.offsets[j] + req[j].bytes &&
          layout.offsets[j] < layout.offsets[i] + req[i].bytes;
      EXPECT_FALSE(live_together && bytes_overlap) << i << " and " << j;
    }
  }
}

TEST(PlanArena, DisjointLifetimesShareBytes) {
  // A chain a → b → c → d: each buffer dies when the next-but-one is made.
  const std::vector<ArenaRequest> req{{1000, 0, 1}, {1000, 1, 2}, {1000, 2, 3}, {1000, 3, 4}};
  const ArenaLayout layout = plan_arena(req);
  expect_valid(req, layout, 64);
  EXPECT_EQ(layout.total_bytes, 2 * 1024u);  // two live buffers at a time, 64-byte rounded
}

TEST(PlanArena, RandomRequestsAreValidAndCompact) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<ArenaRequest> req;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      const std::size_t first = rng() % 30;
      req.push_back({rng() % 5000, first, first + rng() % 10});
    }
    const ArenaLayout layout = plan_arena(req, 32);
    expect_valid(req, layout, 32);
    std::size_t sum = 0;
    for (const auto& r : req) sum += (r.bytes + 31) / 32 * 32;
    EXPECT_LE(layout.total_bytes, sum);
  }
}

TEST(PlanArena, BadArgumentsThrow) {
  const std::vector<ArenaRequest> backwards{{10, 3, 2}};
  EXPECT_THROW(plan_arena(backwards), Error);
  const std::vector<ArenaRequest> ok{{10, 0, 0}};
  EXPECT_THROW(plan_arena(ok, 48), Error);  // not a power of two
  EXPECT_EQ(plan_arena({}).total_bytes, 0u);
}

}  // namespace
}  // namespace quantkit::graph
