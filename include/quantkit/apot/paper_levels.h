#pragma once
// The APoT paper's own weight level sets (Li, Dong & Wang, "Additive Powers-of-Two
// Quantization", ICLR 2020, arXiv 1909.13144), as the authors' code builds them:
// build_power_value(B, additive=True) in github.com/yhhhli/APoT_Quantization,
// ImageNet/models/quant_layer.py (commit 5d38b38c2d10ef9d090d29329613ff282926b7b5) and
// CIFAR10/models/quant_layer.py (commit cccffe8dc8a5af7179394d389cd2d044554ccb21).
//
// A signed N-bit weight is 1 sign bit + an unsigned B = N - 1 bit magnitude: QuantConv2d uses
// proj_set_weight = build_power_value(B = bit - 1), quantizes |w / alpha| clipped to [0, 1] to
// the nearest magnitude and restores the sign. The magnitudes are the distinct sums of one
// entry of each base list (each list also holds 0), normalized so that the largest is 1:
//
//   B  base lists (exponents e of 2^-e)                    magnitudes (x largest)
//   1  (bit = 2: the ImageNet code's uniform ternary)      {0, 1}
//   2  {1, 2, 3}                                           {0, 1/8, 1/4, 1/2}       / (1/2)
//   3  {1, 2, 4}, {3}                                      {0, 1/16, ..., 5/8} (8)  / (5/8)
//   4  {1, 3, 5}, {2, 4, 6}                                16 sums                  / (3/4)
//   5  {1, 3, 6}, {2, 4, 7}, {5}                           32 sums                  / (25/32)
//   6  {1, 4, 7}, {2, 5, 8}, {3, 6, 9}                     64 sums                  / (7/8)
//
// so N bits give 2^(N-1) magnitudes and 2^N - 1 signed values (the two zeros coincide): at most
// 2^N codes. float32 as torch computes them: each sum is exact, the normalization is
// float32(sum) * (1.0f / float32(largest)) rounded to float32, and a level is
// float32(normalized * alpha).
#include <vector>

#include "quantkit/apot/qparams.h"

namespace quantkit::apot {

// The 2^B normalized magnitudes, ascending (0 first, 1 last). B: 1 ... 6.
std::vector<float> apot_paper_magnitudes(int magnitude_bits);

// The 2^N - 1 signed values for alpha = 1, ascending: -1 ... 0 ... 1. N: 2 ... 7.
std::vector<float> apot_paper_signed_values(int bits);

// qparams of apot_paper_scheme(bits) for a clipping level alpha (finite, >= 0):
// levels[p] = float32(signed_values[p] * alpha), level_indices[p] = p (the code is the sorted
// position: code 2^(N-1) - 1 is zero), gamma = alpha (the scale of the normalized set).
ApotQParams make_apot_paper_qparams(const ApotScheme& scheme, float alpha);

}  // namespace quantkit::apot
