// APoT search-table construction, the portable lookup kernel and run-time dispatch.
#include <cmath>
#include <cstring>
#include <limits>

#include "quantkit/kernels/apot_kernels.h"
#include "quantkit/kernels/cpu_features.h"

namespace quantkit::kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// PyTorch's choice between the two neighbours lo < hi of x (lo <= x <= hi): the scan keeps
// hi only if its float32 distance is strictly smaller.
bool picks_upper(float lo, float hi, float x) { return (hi - x) < (x - lo); }

// Smallest float32 x in (lo, hi] for which picks_upper holds. picks_upper is monotone in x
// on that interval (hi - x only shrinks, x - lo only grows, rounding is monotone), so we
// start at the float32 nearest the exact midpoint and step ulps to the boundary.
float upper_threshold(float lo, float hi) {
  float m = static_cast<float>(0.5 * (static_cast<double>(lo) + static_cast<double>(hi)));
  if (!(m > lo)) m = std::nextafter(lo, kInf);
  if (m > hi) m = hi;
  if (picks_upper(lo, hi, m)) {
    for (float p = std::nextafter(m, -kInf); p > lo && picks_upper(lo, hi, p);
         p = std::nextafter(p, -kInf)) {
      m = p;
    }
  } else {
    while (!picks_upper(lo, hi, m)) m = std::nextafter(m, kInf);
  }
  return m;
}

// Spacing of float32 numbers at magnitude |y| (the subnormal spacing below FLT_MIN).
double float32_spacing(double y) {
  y = std::fabs(y);
  if (y < static_cast<double>(std::numeric_limits<float>::min())) return std::ldexp(1.0, -149);
  return std::ldexp(1.0, std::ilogb(y) - 23);
}

// Can fl(x - below) == fl(x - lo) for some x in [lo, x_max]? Then the scan would keep
// `below` although lo is nearer. Two reals rounding to the same float32 differ by at most
// the spacing there, so a gap of more than twice the spacing at the largest distance rules
// it out (conservative: a false alarm only costs speed).
bool lower_neighbour_may_tie(float below, float lo, float x_max) {
  const double gap = static_cast<double>(lo) - static_cast<double>(below);
  const double widest = static_cast<double>(x_max) - static_cast<double>(below);
  return !(gap > 2.0 * float32_spacing(widest));
}

}  // namespace

ApotSearchTable build_apot_search_table(const float* levels, const std::int64_t* level_indices,
                                        std::int64_t num_levels, float alpha) {
  ApotSearchTable t;
  t.lower = -alpha;
  t.upper = alpha;
  std::vector<std::int32_t> first_codes;
  for (std::int64_t p = 0; p < num_levels; ++p) {
    // Equal values: the scan meets the first one in sorted order first and keeps it.
    if (p == 0 || levels[p] != levels[p - 1]) {
      t.distinct_levels.push_back(levels[p]);
      first_codes.push_back(static_cast<std::int32_t>(level_indices[p]));
    }
  }
  const std::int32_t d = static_cast<std::int32_t>(t.distinct_levels.size());
  t.num_distinct = d;
  std::int32_t padded = 16;
  while (padded < d) padded <<= 1;
  t.padded_size = padded;
  t.thresholds.assign(static_cast<std::size_t>(padded), kInf);
  t.codes.assign(static_cast<std::size_t>(padded), first_codes.back());
  t.value_bits.assign(static_cast<std::size_t>(padded), 0);
  for (std::int32_t j = 0; j < padded; ++j) {
    const std::int32_t src = j < d ? j : d - 1;
    if (j < d) t.codes[static_cast<std::size_t>(j)] = first_codes[static_cast<std::size_t>(j)];
    std::memcpy(&t.value_bits[static_cast<std::size_t>(j)],
                &t.distinct_levels[static_cast<std::size_t>(src)], sizeof(float));
  }
  for (std::int32_t j = 0; j + 1 < d; ++j) {
    t.thresholds[static_cast<std::size_t>(j)] =
        upper_threshold(t.distinct_levels[static_cast<std::size_t>(j)],
                        t.distinct_levels[static_cast<std::size_t>(j) + 1]);
  }
  // Inputs are clamped to [-alpha, alpha]; x in [v_j, T_j) has lower neighbour v_j.
  for (std::int32_t j = 1; j < d && !t.exact_scan_needed; ++j) {
    const float vj = t.distinct_levels[static_cast<std::size_t>(j)];
    if (vj > alpha) break;
    const float x_max =
        j + 1 < d ? std::nextafter(t.thresholds[static_cast<std::size_t>(j)], -kInf) : alpha;
    const float top = x_max < alpha ? x_max : alpha;
    if (top > vj &&
        lower_neighbour_may_tie(t.distinct_levels[static_cast<std::size_t>(j) - 1], vj, top)) {
      t.exact_scan_needed = true;
    }
  }
  return t;
}

std::int32_t apot_exact_position(const ApotSearchTable& table, float x) {
  x = detail::apot_clamp_input(table, x);
  const std::vector<float>& v = table.distinct_levels;
  const std::int32_t d = table.num_distinct;
  // hi = first distinct level > x; below all levels the first level is nearest and first.
  std::int32_t lo_count = 0, len = d;
  while (len > 0) {
    const std::int32_t half = len / 2;
    if (v[static_cast<std::size_t>(lo_count + half)] <= x) {
      lo_count += half + 1;
      len -= half + 1;
    } else {
      len = half;
    }
  }
  if (lo_count == 0) return 0;
  std::int32_t j = lo_count - 1;  // v[j] <= x
  const float d_lo = x - v[static_cast<std::size_t>(j)];
  if (j + 1 < d && (v[static_cast<std::size_t>(j) + 1] - x) < d_lo) return j + 1;
  // Lower side wins; the scan keeps the first (lowest) level with the same float32 distance.
  while (j > 0 && (x - v[static_cast<std::size_t>(j) - 1]) == d_lo) --j;
  return j;
}

void apot_lookup_portable(const ApotSearchTable& table, const float* x, std::int64_t n,
                          const std::int32_t* payload, std::int32_t* out) {
  if (table.exact_scan_needed) {
    for (std::int64_t i = 0; i < n; ++i) out[i] = payload[apot_exact_position(table, x[i])];
    return;
  }
  for (std::int64_t i = 0; i < n; ++i) {
    out[i] = payload[detail::apot_search_position(table, detail::apot_clamp_input(table, x[i]))];
  }
}

void apot_lookup(const ApotSearchTable& table, const float* x, std::int64_t n,
                 const std::int32_t* payload, std::int32_t* out) {
  if (!table.exact_scan_needed) {
    switch (active_isa()) {
      case IsaLevel::Avx512:
        detail::apot_lookup_avx512(table, x, n, payload, out);
        return;
      case IsaLevel::Avx2:
        detail::apot_lookup_avx2(table, x, n, payload, out);
        return;
      case IsaLevel::Portable:
        break;
    }
  }
  apot_lookup_portable(table, x, n, payload, out);
}

namespace {
template <class Out>
std::int64_t dequantize_impl(const float* value_of_code, std::int64_t num_codes,
                             const std::int32_t* codes, std::int64_t n, Out* out) {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int32_t c = codes[i];
    if (c < 0 || c >= num_codes) return i;
    out[i] = static_cast<Out>(value_of_code[c]);
  }
  return -1;
}
}  // namespace

std::int64_t apot_dequantize_f32(const float* value_of_code, std::int64_t num_codes,
                                 const std::int32_t* codes, std::int64_t n, float* out) {
  return dequantize_impl(value_of_code, num_codes, codes, n, out);
}
std::int64_t apot_dequantize_f64(const float* value_of_code, std::int64_t num_codes,
                                 const std::int32_t* codes, std::int64_t n, double* out) {
  return dequantize_impl(value_of_code, num_codes, codes, n, out);
}

}  // namespace quantkit::kernels
