#pragma once
// Observers (torch.ao.quantization.observer): watch tensors during calibration, then
// compute quantization parameters.
//
// Every observer can be reset, saved to a JSON string and loaded back, cloned, and merged
// with another observer of the same kind and configuration, so calibration can be split
// across processes or machines and combined. observe() never modifies its input.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "quantkit/core/tensor.h"
#include "quantkit/quant/choose_qparams.h"
#include "quantkit/quant/qparams.h"

namespace quantkit {

struct ObserverOptions {
  DType dtype = DType::UInt8;  // torch quint8 = UInt8, qint8 = Int8, qint32 = Int32
  QScheme qscheme = QScheme::PerTensorAffine;
  bool reduce_range = false;
  std::optional<std::int64_t> quant_min;  // custom range: both or neither
  std::optional<std::int64_t> quant_max;
  float eps = kDefaultObserverEps;
  std::int64_t ch_axis = 0;          // per-channel observers; negative counts from the end
  float averaging_constant = 0.01f;  // moving-average observers
  std::int64_t bins = 2048;          // histogram observer
  // FixedQParamsObserver
  double fixed_scale = 1.0;
  std::int64_t fixed_zero_point = 0;
};

class Observer {
 public:
  virtual ~Observer() = default;

  // Records statistics of x (float32). Empty tensors are ignored.
  virtual void observe(const Tensor& x) = 0;
  // torch's forward(): observe, then return x unchanged (the same tensor).
  Tensor forward(const Tensor& x) {
    observe(x);
    return x;
  }
  // Throws Error if the observer cannot produce qparams (e.g. Placeholder).
  virtual QParams calculate_qparams() const = 0;
  virtual void reset() = 0;
  // Running statistics, one entry per channel (one for per-tensor observers). Before any
  // data a per-tensor observer reports +inf / -inf like torch's buffers and a per-channel
  // one reports empty vectors (its channel count is not known yet); kinds without
  // statistics (placeholder, fixed qparams) return empty vectors.
  virtual std::vector<float> min_val() const { return {}; }
  virtual std::vector<float> max_val() const { return {}; }
  // "minmax", "moving-average-minmax", "per-channel-minmax",
  // "moving-average-per-channel-minmax", "histogram", "placeholder", "fixed-qparams".
  virtual std::string_view kind() const = 0;
  const ObserverOptions& options() const { return options_; }
  // The effective (quant_min, quant_max) after reduce_range.
  const QuantRange& quant_range() const { return range_; }

  // State and configuration as a JSON document; load_observer() restores it exactly
  // (float bits included).
  virtual std::string save() const = 0;
  // Folds `other`'s statistics into this one. For the min/max and per-channel min/max
  // observers this is exactly as if this observer had also seen every tensor `other` saw;
  // moving averages and histograms have their own precisely defined rules (observers.h).
  // Merging an empty observer changes nothing; merging into an empty one copies. Throws
  // Error if the kinds or configurations (or per-channel channel counts) differ.
  virtual void merge(const Observer& other) = 0;
  virtual std::unique_ptr<Observer> clone() const = 0;

 protected:
  explicit Observer(const ObserverOptions& options);
  void check_mergeable(const Observer& other) const;
  ObserverOptions options_;
  QuantRange range_;
};

// Factory by kind name (see Observer::kind()).
std::unique_ptr<Observer> make_observer(std::string_view kind, const ObserverOptions& options);
// Restores an observer written by Observer::save(). Throws Error on malformed input.
std::unique_ptr<Observer> load_observer(std::string_view json);

}  // namespace quantkit
