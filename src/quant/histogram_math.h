#pragma once
// The arithmetic of the modern HistogramObserver, step for step as torch 1.13 executes it
// (tests/data/uniform/README.md, "Exact arithmetic"). Internal to the library.
#include <cstdint>
#include <span>
#include <vector>

#include "quantkit/quant/observers.h"

namespace quantkit::histogram_detail {

// torch.linspace(start, end, steps) in float32 as torch 1.13's AVX2 kernel computes it with
// one thread (chunks of 8 from an fma'd base, then fma'd scalars). steps >= 2.
void torch_linspace(float start, float end, std::int64_t steps, float* out);

// torch.histc(x, bins, lo, hi), added into counts (size bins). lo == hi falls back to the
// data's range, then to [lo - 1, hi + 1]. Values outside [lo, hi] are not counted.
void histc_add(std::span<const float> x, float lo, float hi, std::span<float> counts);

// torch.sum of a contiguous float32 vector (1.13, AVX2: 8 lanes, 4 columns, 4-level cascade).
float torch_sum(std::span<const float> values);

// torch.div(a, b, rounding_mode="floor") for float32.
float floor_divide(float a, float b);

// The stored histogram over [min, max] moved onto [new_min, new_max] (which contains it) as
// forward() moves it: unchanged for the same range, all mass into the bin holding the value
// for a constant histogram (min == max), REBIN (_upscale_histogram) otherwise.
std::vector<float> move_histogram(std::span<const float> histogram, float min, float max,
                                  float new_min, float new_max);

// _compute_quantization_error(start_bin, end_bin); 0.0 when the destination bin width is 0.
double quantization_error(std::span<const float> histogram, float min, float max,
                          std::int64_t start_bin, std::int64_t end_bin, std::int64_t dst_bins);

// _non_linear_param_search on a non-negative histogram over [min, max].
HistogramSearch non_linear_param_search(std::span<const float> histogram, float min, float max,
                                        std::int64_t dst_bins);

}  // namespace quantkit::histogram_detail
