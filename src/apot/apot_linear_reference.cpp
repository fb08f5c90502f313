// ApotLinear::forward_reference: the paper's shift-and-add, one weight term at a time.
// For weight code c, term i picks 0 or ±2^-e_i; the product (x − x_zp) · level is
// gamma · 2^-E · Σ_i ±((x − x_zp) << (E − e_i)), accumulated exactly in int64.
#include <cstdint>
#include <vector>

#include "quantkit/apot/apot_linear.h"
#include "quantkit/core/error.h"

namespace quantkit::apot {
namespace {

// One term of a code: shift E − e (or -1 for the zero term) and its sign.
struct Term {
  int shift = -1;
  bool negative = false;
};

// terms[c * n + i] for every code c: the base-(terms per list) digits of c, first term most
// significant (PyTorch's cartesian order), mapped through the term lists.
std::vector<Term> decompose_codes(const ApotScheme& scheme) {
  const int n = scheme.n();
  const int e_max = scheme.smallest_term_exponent();
  const std::int64_t per_list = scheme.terms_per_list();
  const std::int64_t levels = scheme.num_levels();
  const std::size_t nonzero = static_cast<std::size_t>((1 << scheme.k) - 1);
  std::vector<std::vector<Term>> lists(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    const std::vector<int> exponents = apot_term_exponents(scheme, i);
    for (std::size_t p = 0; p < exponents.size(); ++p) {
      Term t;
      if (exponents[p] >= 0) {
        t.shift = e_max - exponents[p];
        t.negative = scheme.is_signed && p > nonzero;  // signed lists: +…, 0, −…
      }
      lists[static_cast<std::size_t>(i)].push_back(t);
    }
  }
  std::vector<Term> terms(static_cast<std::size_t>(levels * n));
  for (std::int64_t c = 0; c < levels; ++c) {
    std::int64_t rest = c;
    for (int i = n - 1; i >= 0; --i) {
      terms[static_cast<std::size_t>(c * n + i)] =
          lists[static_cast<std::size_t>(i)][static_cast<std::size_t>(rest % per_list)];
      rest /= per_list;
    }
  }
  return terms;
}

}  // namespace

Tensor ApotLinear::forward_reference(const Tensor& x, double x_scale,
                                     std::int32_t x_zero_point) const {
  check_forward(x, x_scale, x_zero_point, "ApotLinear::forward_reference");
  const ApotScheme& scheme = qparams().scheme;
  const int n_terms = scheme.n();
  const std::vector<Term> terms = decompose_codes(scheme);
  const float scale = output_scale(x_scale);

  Shape out_shape = x.shape();
  out_shape.back() = n_;
  const std::int64_t m = x.numel() / k_;
  Tensor y = Tensor::empty(out_shape, DType::Float32);
  const std::int32_t* codes = codes_.data<std::int32_t>();
  const auto* xb = static_cast<const std::uint8_t*>(x.raw_data());
  const bool is_signed = x.dtype() == DType::Int8;
  const float* bias = bias_ ? bias_->data<float>() : nullptr;
  for (std::int64_t r = 0; r < m; ++r) {
    for (std::int64_t c = 0; c < n_; ++c) {
      std::int64_t acc = 0;
      for (std::int64_t kk = 0; kk < k_; ++kk) {
        const std::uint8_t raw = xb[r * k_ + kk];
        const std::int64_t xv =
            (is_signed ? std::int64_t{static_cast<std::int8_t>(raw)} : std::int64_t{raw}) -
            x_zero_point;
        // Shift the magnitude (left shifts of negative values are best avoided), then sign.
        const std::uint64_t magnitude = static_cast<std::uint64_t>(xv < 0 ? -xv : xv);
        const bool x_negative = xv < 0;
        const Term* t = terms.data() + static_cast<std::int64_t>(codes[c * k_ + kk]) * n_terms;
        for (int i = 0; i < n_terms; ++i) {
          if (t[i].shift < 0) continue;
          const std::int64_t shifted = static_cast<std::int64_t>(magnitude << t[i].shift);
          acc += (t[i].negative != x_negative) ? -shifted : shifted;
        }
      }
      float v = static_cast<float>(acc) * scale;
      if (bias) v = v + bias[c];
      y.data<float>()[r * n_ + c] = v;
    }
  }
  return y;
}

}  // namespace quantkit::apot
