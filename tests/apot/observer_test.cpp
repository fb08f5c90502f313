// ApotObserver: PyTorch's test_nonuniform_observer.py ported, plus min/max overrides, errors,
// save/load (exact bits) and merge.
#include "quantkit/apot/observer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "quantkit/core/error.h"
#include "support/golden.h"

namespace quantkit::apot {
namespace {

using quantkit::testing::bits_of;

ApotObserver with_min_max(int b, int k, float mn, float mx) {
  ApotObserver obs(b, k);
  obs.set_min_val(mn);
  obs.set_max_val(mx);
  return obs;
}

bool indices_unique(const std::vector<std::int64_t>& v) {
  return std::set<std::int64_t>(v.begin(), v.end()).size() == v.size();
}

TEST(ApotObserverPyTorch, InvalidBK) {
  EXPECT_THROW(ApotObserver(0, 0), Error);  // PyTorch: AssertionError in calculate_qparams
  EXPECT_THROW(ApotObserver(5, 2), Error);
  EXPECT_THROW(ApotObserver(4, -2), Error);
}

void expect_terms(int b, int k, bool is_signed, std::size_t num_levels) {
  const ApotObserver obs = with_min_max(b, k, 0.0f, 1.0f);
  const ApotQParams q = obs.calculate_qparams(is_signed);
  EXPECT_EQ(q.alpha, 1.0f);
  double gamma = 0.0;
  for (int i = 0; i < b / k; ++i) gamma += std::ldexp(1.0, -i);
  EXPECT_EQ(q.gamma, static_cast<float>(1.0 / gamma));
  EXPECT_EQ(q.levels.size(), num_levels);
  EXPECT_EQ(q.level_indices.size(), num_levels);
  EXPECT_TRUE(indices_unique(q.level_indices));
}

TEST(ApotObserverPyTorch, TwoTerms) { expect_terms(4, 2, false, 16); }
TEST(ApotObserverPyTorch, ThreeTerms) { expect_terms(6, 2, false, 64); }
TEST(ApotObserverPyTorch, K1) { expect_terms(6, 1, false, 64); }

TEST(ApotObserverPyTorch, Signed) {
  expect_terms(4, 2, true, 49);
  const ApotQParams q = with_min_max(4, 2, 0.0f, 1.0f).calculate_qparams(true);
  const std::set<float> values(q.levels.begin(), q.levels.end());
  for (const float v : q.levels) EXPECT_TRUE(values.count(-v)) << v;
}

TEST(ApotObserverPyTorch, ForwardAlphaIsMaxAbs) {
  ApotObserver obs(4, 2);
  const Tensor x =
      Tensor::from_vector(std::vector<float>{0.0f, -100.23f, -37.18f, 3.42f, 8.93f, 9.21f, 87.92f});
  const Tensor same = obs.forward(x);
  EXPECT_EQ(same.raw_data(), x.raw_data());  // forward returns x itself
  EXPECT_EQ(obs.calculate_qparams(true).alpha, 100.23f);
  EXPECT_EQ(obs.min_val(), -100.23f);
  EXPECT_EQ(obs.max_val(), 87.92f);
}

TEST(ApotObserver, RunningMinMaxAndEmptyIgnored) {
  ApotObserver obs(4, 2);
  obs.observe(Tensor::from_vector(std::vector<float>{1.0f, 2.0f}));
  obs.observe(Tensor::empty({0}, DType::Float32));
  obs.observe(Tensor::from_vector(std::vector<double>{-0.5, 0.5}));
  EXPECT_EQ(obs.min_val(), -0.5f);
  EXPECT_EQ(obs.max_val(), 2.0f);
  EXPECT_EQ(obs.alpha(), 2.0f);
  obs.set_min_val(-3.0f);  // override, like assigning observer.min_val in PyTorch
  EXPECT_EQ(obs.alpha(), 3.0f);
  obs.reset();
  EXPECT_FALSE(obs.has_min_val());
}

TEST(ApotObserver, Errors) {
  ApotObserver obs(4, 2);
  EXPECT_THROW(obs.calculate_qparams(false), Error);  // no data yet
  obs.set_min_val(0.0f);
  EXPECT_THROW(obs.calculate_qparams(false), Error);  // max_val missing
  obs.observe(Tensor::from_vector(std::vector<float>{1.0f}));
  const Tensor with_nan = Tensor::from_vector(std::vector<float>{5.0f, std::nanf("")});
  EXPECT_THROW(obs.observe(with_nan), Error);
  EXPECT_EQ(obs.max_val(), 1.0f);  // unchanged by the rejected tensor
  EXPECT_THROW(obs.observe(Tensor::from_vector(std::vector<std::int32_t>{1})), Error);
  EXPECT_THROW(obs.set_max_val(std::nanf("")), Error);
  obs.observe(Tensor::from_vector(std::vector<float>{INFINITY}));
  EXPECT_THROW(obs.calculate_qparams(false), Error);  // alpha = inf
  // Over the level limit: signed b=16,k=1.
  EXPECT_THROW(with_min_max(16, 1, 0.0f, 1.0f).calculate_qparams(true), Error);
  EXPECT_NO_THROW(with_min_max(16, 1, 0.0f, 1.0f).calculate_qparams(false));
}

TEST(ApotObserver, SaveLoadIsExact) {
  ApotObserver obs(8, 2);
  obs.observe(Tensor::from_vector(std::vector<float>{-0.123456789f, 3.3333333f, 1e-38f}));
  const ApotObserver back = ApotObserver::load(obs.save());
  EXPECT_EQ(back.b(), 8);
  EXPECT_EQ(back.k(), 2);
  EXPECT_EQ(bits_of(back.min_val()), bits_of(obs.min_val()));
  EXPECT_EQ(bits_of(back.max_val()), bits_of(obs.max_val()));
  const ApotQParams a = obs.calculate_qparams(true), b = back.calculate_qparams(true);
  EXPECT_EQ(a.levels, b.levels);
  EXPECT_EQ(a.level_indices, b.level_indices);
  const ApotObserver fresh = ApotObserver::load(ApotObserver(4, 2).save());
  EXPECT_FALSE(fresh.has_min_val());
  EXPECT_THROW(ApotObserver::load("not json"), Error);
  EXPECT_THROW(ApotObserver::load(R"({"kind":"minmax","b":4,"k":2})"), Error);
  EXPECT_THROW(
      ApotObserver::load(R"({"kind":"apot","b":5,"k":2,"min_val_bits":null,"max_val_bits":null})"),
      Error);
  EXPECT_THROW(
      ApotObserver::load(R"({"kind":"apot","b":4,"k":2,"min_val_bits":"zz","max_val_bits":null})"),
      Error);
  EXPECT_THROW(ApotObserver::load(
                   R"({"kind":"apot","b":4,"k":2,"min_val_bits":"7fc00000","max_val_bits":null})"),
               Error);
}

TEST(ApotObserver, MergeEqualsObservingBoth) {
  const Tensor a = Tensor::from_vector(std::vector<float>{-1.0f, 0.5f});
  const Tensor b = Tensor::from_vector(std::vector<float>{-0.25f, 4.0f});
  ApotObserver both(4, 2), left(4, 2), right(4, 2), empty(4, 2);
  both.observe(a);
  both.observe(b);
  left.observe(a);
  right.observe(b);
  left.merge(right);
  left.merge(empty);  // nothing observed: no change
  EXPECT_EQ(left.min_val(), both.min_val());
  EXPECT_EQ(left.max_val(), both.max_val());
  empty.merge(right);
  EXPECT_EQ(empty.max_val(), 4.0f);
  ApotObserver other(6, 2);
  EXPECT_THROW(left.merge(other), Error);
}

}  // namespace
}  // namespace quantkit::apot
