#pragma once
// The concrete observers behind make_observer() (quantkit/quant/observer.h), for callers
// that want their statistics or want to build one from a known state.
//
// Non-finite data: every observer rejects a batch holding NaN with an Error and keeps its
// state (torch propagates NaN into min/max and then fails or returns garbage). The min/max
// family also rejects ±inf the same way: torch records it and later produces an infinite
// scale, which no quantizer can use, so failing at the batch that holds it names the
// culprit. HistogramObserver follows torchao instead and drops ±inf elements (a batch left
// empty is ignored). Wrong-dtype input is an Error too; empty tensors are ignored.
//
// An observer that has seen no data returns torch's defaults from calculate_qparams():
// scale {1.0}, zero point {0} (one entry, even for per-channel observers).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "quantkit/quant/observer.h"

namespace quantkit {

// min_val/max_val of a per-tensor observer; (+inf, -inf) until the first batch.
struct MinMaxState {
  float min_val;
  float max_val;
  bool initialized() const;
};
MinMaxState uninitialized_min_max();

// Running min/max (torch.ao MinMaxObserver): min = std::min(batch_min, running_min), etc.
// merge(): elementwise min/max, exactly what one observer that saw both streams holds.
class MinMaxObserver : public Observer {
 public:
  explicit MinMaxObserver(const ObserverOptions& options);
  MinMaxObserver(const ObserverOptions& options, const MinMaxState& state);

  void observe(const Tensor& x) override;
  QParams calculate_qparams() const override;
  void reset() override;
  std::string_view kind() const override;
  std::string save() const override;
  void merge(const Observer& other) override;
  std::unique_ptr<Observer> clone() const override;

  const MinMaxState& state() const { return state_; }
  std::vector<float> min_val() const override { return {state_.min_val}; }
  std::vector<float> max_val() const override { return {state_.max_val}; }
  // Validates the state (finite with min <= max, or the uninitialized pair).
  void set_state(const MinMaxState& state);

 protected:
  MinMaxObserver(const ObserverOptions& options, std::string_view kind_name);
  MinMaxState state_;
};

// Moving average of the batch min/max (torch.ao MovingAverageMinMaxObserver): the first
// batch sets min/max, later ones do m = m + float32(c) * (batch - m) in float32.
// merge(other): NOT order-free. Defined as "other's averaged (min, max) arrives as one more
// batch": if this is empty it becomes a copy of other; if other is empty nothing changes;
// otherwise m = m + c * (other.m - m). So merging an observer that saw exactly one batch is
// bit-identical to observing that batch here; longer streams are approximated by their
// running average, weighted like one batch.
class MovingAverageMinMaxObserver : public MinMaxObserver {
 public:
  explicit MovingAverageMinMaxObserver(const ObserverOptions& options);
  MovingAverageMinMaxObserver(const ObserverOptions& options, const MinMaxState& state);

  void observe(const Tensor& x) override;
  std::string_view kind() const override;
  void merge(const Observer& other) override;
  std::unique_ptr<Observer> clone() const override;
};

// Per-channel min/max; empty vectors until the first batch.
struct PerChannelState {
  std::vector<float> min_val;
  std::vector<float> max_val;
  bool initialized() const { return !min_val.empty(); }
};

// torch.ao PerChannelMinMaxObserver: one min/max per index along ch_axis (negative counts
// from the end, checked against each batch's rank), reduced over every other dimension.
// The channel count may not change between batches. merge(): elementwise, exact.
class PerChannelMinMaxObserver : public Observer {
 public:
  explicit PerChannelMinMaxObserver(const ObserverOptions& options);
  PerChannelMinMaxObserver(const ObserverOptions& options, const PerChannelState& state);

  void observe(const Tensor& x) override;
  QParams calculate_qparams() const override;
  void reset() override;
  std::string_view kind() const override;
  std::string save() const override;
  void merge(const Observer& other) override;
  std::unique_ptr<Observer> clone() const override;

  const PerChannelState& state() const { return state_; }
  std::vector<float> min_val() const override { return state_.min_val; }
  std::vector<float> max_val() const override { return state_.max_val; }
  void set_state(const PerChannelState& state);

 protected:
  PerChannelMinMaxObserver(const ObserverOptions& options, std::string_view kind_name);
  // Per-channel min/max of x (validated); the shared first half of observe().
  bool batch_min_max(const Tensor& x, std::vector<float>& mins, std::vector<float>& maxs) const;
  PerChannelState state_;
};

// torch.ao MovingAveragePerChannelMinMaxObserver; merge() as MovingAverageMinMaxObserver,
// per channel (channel counts must match).
class MovingAveragePerChannelMinMaxObserver : public PerChannelMinMaxObserver {
 public:
  explicit MovingAveragePerChannelMinMaxObserver(const ObserverOptions& options);
  MovingAveragePerChannelMinMaxObserver(const ObserverOptions& options,
                                        const PerChannelState& state);

  void observe(const Tensor& x) override;
  std::string_view kind() const override;
  void merge(const Observer& other) override;
  std::unique_ptr<Observer> clone() const override;
};

// HistogramObserver state: min_val/max_val as observed (+inf/-inf until the first batch)
// and `bins` float32 counts over [min_val, max_val].
struct HistogramState {
  float min_val;
  float max_val;
  std::vector<float> histogram;
  bool initialized() const;
};

// One _compute_quantization_error call of the L2 search.
struct HistogramSearchStep {
  std::int64_t start_bin;
  std::int64_t end_bin;
  double norm;
};
struct HistogramSearch {
  std::int64_t start_bin = 0;
  std::int64_t end_bin = 0;
  float search_min = 0.0f;  // min_val + bin_width * start_bin
  float search_max = 0.0f;  // min_val + bin_width * (end_bin + 1)
  std::vector<HistogramSearchStep> trace;
};

// The MODERN HistogramObserver (torchao pt2e / torch.ao >= 2.x; see the README of
// tests/data/uniform): exact-range histc, constant state kept, REBIN with 16 sub-bins,
// then torch's L2 search (_non_linear_param_search) and the MinMax formula on its result.
// Per-tensor, int8/uint8 only (256 destination bins whatever the quant range).
//
// merge(other): the union range [min(a,b), max(a,b)] receives both histograms, each moved
// onto it exactly as forward() moves the stored one (kept if its range equals the union,
// all mass into one bin if it is constant, REBIN otherwise), then added bin by bin. Merging
// into an empty observer copies; equal ranges add exactly; and merging an observer that saw
// one batch whose range contains this one's is bit-identical to observing that batch here.
class HistogramObserver : public Observer {
 public:
  explicit HistogramObserver(const ObserverOptions& options);
  HistogramObserver(const ObserverOptions& options, const HistogramState& state);

  void observe(const Tensor& x) override;
  QParams calculate_qparams() const override;
  void reset() override;
  std::string_view kind() const override;
  std::string save() const override;
  void merge(const Observer& other) override;
  std::unique_ptr<Observer> clone() const override;

  const HistogramState& state() const { return state_; }
  std::vector<float> min_val() const override { return {state_.min_val}; }
  std::vector<float> max_val() const override { return {state_.max_val}; }
  void set_state(const HistogramState& state);
  // The L2 search calculate_qparams() runs (Error if nothing was observed).
  HistogramSearch search() const;
  // _compute_quantization_error(start_bin, end_bin) on the current histogram, a float32
  // sum in torch.sum's order, returned as double (Error if nothing was observed or the bins
  // are outside [0, bins)).
  double quantization_error(std::int64_t start_bin, std::int64_t end_bin) const;

  static constexpr std::int64_t kUpsampleRate = 16;
  static constexpr std::int64_t kDstBins = 256;

 private:
  HistogramState state_;
};

// torch.ao PlaceholderObserver (dynamic quantization): observe() does nothing (after the
// dtype check); calculate_qparams() raises.
class PlaceholderObserver : public Observer {
 public:
  explicit PlaceholderObserver(const ObserverOptions& options);

  void observe(const Tensor& x) override;
  QParams calculate_qparams() const override;
  void reset() override {}
  std::string_view kind() const override;
  std::string save() const override;
  void merge(const Observer& other) override;
  std::unique_ptr<Observer> clone() const override;
};

// torch.ao FixedQParamsObserver: returns float32(fixed_scale) and fixed_zero_point whatever
// it sees. Range: the custom quant_min/quant_max, else the dtype's 8-bit default;
// reduce_range is rejected (torch has no such argument here).
class FixedQParamsObserver : public Observer {
 public:
  explicit FixedQParamsObserver(const ObserverOptions& options);

  void observe(const Tensor& x) override;
  QParams calculate_qparams() const override;
  void reset() override {}
  std::string_view kind() const override;
  std::string save() const override;
  void merge(const Observer& other) override;
  std::unique_ptr<Observer> clone() const override;
};

}  // namespace quantkit
