// The modern HistogramObserver's arithmetic, bit for bit as torch 1.13 (x86-64, AVX2, one
// thread) runs torchao's Python. Every float32 operation is a separate rounding (the project
// compiles with -ffp-contract=off); std::fma appears only where torch's build fused.
#include "histogram_math.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <limits>

namespace quantkit::histogram_detail {

void torch_linspace(float start, float end, std::int64_t steps, float* out) {
  const float step = (end - start) / static_cast<float>(steps - 1);
  const std::int64_t half = steps / 2;
  // Two halves: the first counts up from start, the second down from end, so both
  // endpoints are exact. GCC contracted `start + step * i` into an fma in torch's kernel.
  const auto scalar = [&](std::int64_t i) {
    return i < half ? std::fma(step, static_cast<float>(i), start)
                    : std::fma(-step, static_cast<float>(steps - 1 - i), end);
  };
  // The vectorized part: whole 16-element blocks, computed as 8-lane vectors whose lanes are
  // base + k * step with no fusion.
  const std::int64_t vectorized = steps / 16 * 16;
  for (std::int64_t c = 0; c < vectorized; c += 8) {
    const float base = scalar(c);
    for (int k = 0; k < 8; ++k) {
      const float offset = static_cast<float>(k) * step;
      out[c + k] = base + offset;
    }
  }
  for (std::int64_t i = vectorized; i < steps; ++i) out[i] = scalar(i);
}

void histc_add(std::span<const float> x, float lo, float hi, std::span<float> counts) {
  const auto bins = static_cast<std::int64_t>(counts.size());
  double lo_d = lo;
  double hi_d = hi;
  if (lo_d == hi_d && !x.empty()) {
    const auto [mn, mx] = std::minmax_element(x.begin(), x.end());
    lo_d = *mn;
    hi_d = *mx;
  }
  if (lo_d == hi_d) {
    lo_d -= 1.0;
    hi_d += 1.0;
  }
  const auto left = static_cast<float>(lo_d);
  const auto right = static_cast<float>(hi_d);
  const float width = right - left;
  const auto fbins = static_cast<float>(bins);
  for (const float v : x) {
    if (!(v >= left && v <= right)) continue;
    const float offset = v - left;
    const float scaled = offset * fbins;
    float pos = scaled / width;
    if (!std::isfinite(pos)) {
      // Torch casts an overflowed or NaN float position to int64, which is undefined. That
      // happens only for ranges near FLT_MAX (place the value in double instead) and for a
      // constant |v| >= 2^24, where v - 1 and v + 1 round back to v (the middle bin, where
      // exact arithmetic puts a constant).
      const double exact_width = static_cast<double>(right) - left;
      pos = exact_width > 0.0 ? static_cast<float>((static_cast<double>(v) - left) *
                                                   static_cast<double>(bins) / exact_width)
                              : static_cast<float>(bins / 2);
    }
    auto idx = static_cast<std::int64_t>(std::min(pos, fbins));
    idx = std::clamp<std::int64_t>(idx, 0, bins - 1);
    counts[static_cast<std::size_t>(idx)] += 1.0f;
  }
}

namespace {

int ceil_log2(std::size_t v) { return v <= 2 ? 1 : std::bit_width(v - 1); }

using Row = std::array<float, 32>;  // 4 columns x 8 lanes

// ATen's multi_row_sum with 4 cascade levels over rows of 32 floats.
Row multi_row_sum(const float* data, std::size_t rows) {
  constexpr int kLevels = 4;
  const int level_power = std::max(4, ceil_log2(rows) / kLevels);
  const std::size_t level_step = std::size_t{1} << level_power;
  const std::size_t level_mask = level_step - 1;
  std::array<Row, kLevels> acc{};
  const auto add_row = [&](Row& into, const float* row) {
    for (int l = 0; l < 32; ++l) into[l] += row[l];
  };
  std::size_t i = 0;
  while (i + level_step <= rows) {
    for (std::size_t k = 0; k < level_step; ++k, ++i) add_row(acc[0], data + i * 32);
    for (int j = 1; j < kLevels; ++j) {
      add_row(acc[j], acc[j - 1].data());
      acc[j - 1].fill(0.0f);
      if ((i & (level_mask << (j * level_power))) != 0) break;
    }
  }
  for (; i < rows; ++i) add_row(acc[0], data + i * 32);
  for (int j = 1; j < kLevels; ++j) add_row(acc[0], acc[j].data());
  return acc[0];
}

}  // namespace

float torch_sum(std::span<const float> values) {
  const std::size_t n = values.size();
  const std::size_t vectors = n / 8;
  const std::size_t rows = vectors / 4;
  Row partial{};
  if (rows > 0) partial = multi_row_sum(values.data(), rows);
  // Leftover vectors go into column 0, then the columns combine as ((c0 + c1) + c2) + c3.
  for (std::size_t v = rows * 4; v < vectors; ++v) {
    for (int l = 0; l < 8; ++l) partial[l] += values[v * 8 + l];
  }
  for (int col = 1; col < 4; ++col) {
    for (int l = 0; l < 8; ++l) partial[l] += partial[col * 8 + l];
  }
  float sum = 0.0f;
  for (std::size_t k = vectors * 8; k < n; ++k) sum += values[k];
  for (int l = 0; l < 8; ++l) sum += partial[l];
  return 0.0f + sum;
}

float floor_divide(float a, float b) {
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && ((b < 0.0f) != (mod < 0.0f))) div -= 1.0f;
  if (div == 0.0f) return std::copysign(0.0f, a / b);
  float floored = std::floor(div);
  if (div - floored > 0.5f) floored += 1.0f;
  return floored;
}

namespace {

// _upscale_histogram: each old bin becomes 16 sub-bins of weight h/16 at their midpoints,
// each midpoint is bucketed among the new edges (upper bound - 1, clamped), and the weights
// accumulate in float32 in sub-bin order.
std::vector<float> rebin(std::span<const float> histogram, float old_min, float old_max,
                         float new_min, float new_max) {
  constexpr std::int64_t kRate = HistogramObserver::kUpsampleRate;
  const auto bins = static_cast<std::int64_t>(histogram.size());
  const std::int64_t sub_bins = bins * kRate;
  std::vector<float> mids(static_cast<std::size_t>(sub_bins + 1));
  torch_linspace(old_min, old_max, sub_bins + 1, mids.data());
  const float sub_width = (old_max - old_min) / static_cast<float>(sub_bins);
  const float half_sub_width = 0.5f * sub_width;
  std::vector<float> edges(static_cast<std::size_t>(bins + 1));
  torch_linspace(new_min, new_max, bins + 1, edges.data());

  std::vector<float> out(static_cast<std::size_t>(bins), 0.0f);
  for (std::int64_t i = 0; i < sub_bins; ++i) {
    const float mid = mids[static_cast<std::size_t>(i)] + half_sub_width;
    // Plain binary search (torch.bucketize(right=True)), defined for any edge values.
    std::int64_t lo = 0;
    std::int64_t hi = bins + 1;
    while (lo < hi) {
      const std::int64_t m = lo + (hi - lo) / 2;
      if (edges[static_cast<std::size_t>(m)] > mid) {
        hi = m;
      } else {
        lo = m + 1;
      }
    }
    const std::int64_t idx = std::clamp<std::int64_t>(lo - 1, 0, bins - 1);
    const float weight = histogram[static_cast<std::size_t>(i / kRate)] / static_cast<float>(kRate);
    out[static_cast<std::size_t>(idx)] += weight;
  }
  return out;
}

}  // namespace

std::vector<float> move_histogram(std::span<const float> histogram, float min, float max,
                                  float new_min, float new_max) {
  if (min == new_min && max == new_max) return {histogram.begin(), histogram.end()};
  if (min == max) {
    // All mass sits on one value: histc([min]) * sum(histogram).
    std::vector<float> out(histogram.size(), 0.0f);
    const float point[1] = {min};
    histc_add(point, new_min, new_max, out);
    const float mass = torch_sum(histogram);
    for (float& v : out) v *= mass;
    return out;
  }
  return rebin(histogram, min, max, new_min, new_max);
}

double quantization_error(std::span<const float> histogram, float min, float max,
                          std::int64_t start_bin, std::int64_t end_bin, std::int64_t dst_bins) {
  const auto bins = static_cast<std::int64_t>(histogram.size());
  // Python doubles, evaluated left to right as torchao writes them.
  const double bin_width =
      (static_cast<double>(max) - static_cast<double>(min)) / static_cast<double>(bins);
  const double dst_bin_width =
      bin_width * static_cast<double>(end_bin - start_bin + 1) / static_cast<double>(dst_bins);
  if (dst_bin_width == 0.0) return 0.0;

  const auto d = static_cast<float>(dst_bin_width);
  const auto half = static_cast<float>(dst_bin_width / 2);
  const auto neg_half = static_cast<float>(-dst_bin_width / 2);
  const auto bw = static_cast<float>(bin_width);
  const auto top = static_cast<float>(dst_bins - 1);
  const auto cube = [](float t) {
    const float sq = t * t;
    return sq * t;
  };
  // (q^3 - p^3) / 3, the L2 norm of a unit density between p and q, before the density.
  const auto l2 = [&](float p, float q) {
    const float diff = cube(q) - cube(p);
    return diff / 3.0f;
  };
  const auto clamp_bin = [&](float v) { return v < 0.0f ? 0.0f : (v > top ? top : v); };
  const float full_dst_bin = l2(neg_half, half);

  std::vector<float> terms(static_cast<std::size_t>(bins));
  for (std::int64_t i = 0; i < bins; ++i) {
    const float begin = static_cast<float>(i - start_bin) * bw;
    const float end = begin + bw;
    const float dst_of_begin = clamp_bin(floor_divide(begin, d));
    const float dst_of_end = clamp_bin(floor_divide(end, d));
    const float begin_center = (dst_of_begin + 0.5f) * d;
    const float end_center = dst_of_end * d + half;
    const float density = histogram[static_cast<std::size_t>(i)] / bw;

    const float first = density * l2(begin - begin_center, half);
    const float between = ((dst_of_end - dst_of_begin) - 1.0f) * (density * full_dst_bin);
    const float last = density * l2(neg_half, end - end_center);
    float norm = 0.0f + first;
    norm += between;
    norm += last;
    terms[static_cast<std::size_t>(i)] = norm;
  }
  return torch_sum(terms);
}

HistogramSearch non_linear_param_search(std::span<const float> histogram, float min, float max,
                                        std::int64_t dst_bins) {
  const auto bins = static_cast<std::int64_t>(histogram.size());
  const float bin_width = (max - min) / static_cast<float>(bins);
  const double total = torch_sum(histogram);
  // torch.cumsum: double accumulator, every prefix rounded to float32. Non-decreasing,
  // because the counts are non-negative.
  std::vector<float> csum(histogram.size());
  double running = 0.0;
  for (std::size_t i = 0; i < histogram.size(); ++i) {
    running += histogram[i];
    csum[i] = static_cast<float>(running);
  }

  HistogramSearch out;
  double alpha = 0.0;
  double beta = 1.0;
  std::int64_t start = 0;
  std::int64_t end = bins - 1;
  double best = std::numeric_limits<double>::infinity();
  constexpr double kStep = 1e-5;
  while (alpha < beta) {
    const double next_alpha = alpha + kStep;
    const double next_beta = beta - kStep;
    // torch compares the float32 cumsum with the Python float thresholds in float32.
    const auto alpha_mass = static_cast<float>(next_alpha * total);
    const auto beta_mass = static_cast<float>(next_beta * total);
    // torchao scans `while l < end and csum[l] < alpha_mass: l += 1` and
    // `while r > start and csum[r] > beta_mass: r -= 1`; on a non-decreasing csum these are
    // the binary searches below, with identical results.
    const auto first = csum.begin();
    const std::int64_t l = std::lower_bound(first + start, first + end, alpha_mass) - first;
    const std::int64_t r =
        (std::upper_bound(first + start + 1, first + end + 1, beta_mass) - first) - 1;

    std::int64_t next_start = start;
    std::int64_t next_end = end;
    if (l - start > end - r) {
      next_start = l;
      alpha = next_alpha;
    } else {
      next_end = r;
      beta = next_beta;
    }
    if (next_start == start && next_end == end) continue;

    const double norm = quantization_error(histogram, min, max, next_start, next_end, dst_bins);
    out.trace.push_back({next_start, next_end, norm});
    if (norm > best) break;
    best = norm;
    start = next_start;
    end = next_end;
  }
  out.start_bin = start;
  out.end_bin = end;
  out.search_min = min + bin_width * static_cast<float>(start);
  out.search_max = min + bin_width * static_cast<float>(end + 1);
  return out;
}

}  // namespace quantkit::histogram_detail
