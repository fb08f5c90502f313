#pragma once
// APoTObserver (torch.ao.quantization.experimental.observer): running min/max of everything
// observed, and calculate_qparams(signed) -> alpha = max(-min_val, max_val), gamma, levels,
// level indices (see apot/scheme.h for how the levels are built).
//
// Like the uniform observers (quant/observer.h) it can be reset, saved to JSON and loaded
// back exactly (float bits), and merged with another observer of the same (b, k).
// Deviations: NaN inputs are rejected with Error (torch.aminmax would propagate NaN into
// alpha and every level); b and k are validated at construction (PyTorch asserts later).
#include <optional>
#include <string>
#include <string_view>

#include "quantkit/apot/qparams.h"
#include "quantkit/core/tensor.h"

namespace quantkit::apot {

class ApotObserver {
 public:
  // Throws Error unless k > 0 and b is a positive multiple of k (PyTorch), or unless (b, k)
  // is a valid paper scheme (PaperSigned: 2 <= b <= 7, k = 1).
  ApotObserver(int b, int k, ApotLevelSet level_set = ApotLevelSet::PyTorch);

  int b() const { return b_; }
  int k() const { return k_; }
  ApotLevelSet level_set() const { return level_set_; }

  // Folds x (float32 or float64) into the running min/max. Empty tensors are ignored;
  // a tensor containing NaN throws Error and leaves the observer unchanged.
  void observe(const Tensor& x);
  // torch's forward(): observe, then return x itself.
  Tensor forward(const Tensor& x) {
    observe(x);
    return x;
  }

  // Throws Error before any data (torch: "only one element tensors can be converted to
  // Python scalars"), for a non-finite alpha, or for a scheme over the size limits.
  // PaperSigned observers give the paper's signed set and refuse is_signed = false.
  ApotQParams calculate_qparams(bool is_signed) const;
  // alpha = max(-min_val, max_val) in float32 (throws Error before any data).
  float alpha() const;

  bool has_min_val() const { return min_val_.has_value(); }
  bool has_max_val() const { return max_val_.has_value(); }
  // Throw Error if not set.
  float min_val() const;
  float max_val() const;
  // Overrides, like assigning observer.min_val / max_val in PyTorch. NaN throws Error.
  void set_min_val(float value);
  void set_max_val(float value);
  void reset();

  // {"kind":"apot","b":..,"k":..,"min_val_bits":"xxxxxxxx" or null,"max_val_bits":...}, plus
  // "level_set":"paper_signed" for a PaperSigned observer (absent: PyTorch).
  std::string save() const;
  static ApotObserver load(std::string_view json);
  // As if this observer had also seen everything `other` saw. Throws Error if b, k or the
  // level set differ.
  void merge(const ApotObserver& other);

 private:
  int b_;
  int k_;
  ApotLevelSet level_set_;
  std::optional<float> min_val_;
  std::optional<float> max_val_;
};

}  // namespace quantkit::apot
