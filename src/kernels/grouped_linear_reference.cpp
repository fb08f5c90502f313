// The portable grouped_linear kernel: scalar loops on the packed rows (4-bit nibbles
// unpacked one at a time), the level the AVX2 / AVX-512 kernels are tested against.
#include "grouped_linear_internal.h"

namespace quantkit::kernels::grouped_detail {
namespace {

// w[k] of one packed row.
std::int32_t weight(const GroupedWeights& w, const std::uint8_t* row, std::int64_t k) {
  if (w.bits() == 8) return static_cast<std::int8_t>(row[k]);
  constexpr std::int64_t half = GroupedWeights::kChunk / 2;
  const std::int64_t k0 = k / GroupedWeights::kChunk * GroupedWeights::kChunk, j = k - k0;
  const std::uint8_t byte = row[k0 / 2 + j % half];
  return (j < half ? (byte & 0x0F) : (byte >> 4)) - 8;
}

void run_portable(const GroupedProblem& p, std::int64_t begin, std::int64_t end) {
  const GroupedWeights& w = *p.w;
  const std::int64_t k = w.k(), n = w.n(), gs = w.group_size();
  for (std::int64_t m = 0; m < p.in.m; ++m) {
    const std::int8_t* x = p.in.x + m * k;
    const std::int32_t zp = p.in.zero_point[static_cast<std::size_t>(m)];
    for (std::int64_t c = begin; c < end; ++c) {
      const std::uint8_t* row = w.row(c);
      const float* scale = w.scales(c);
      float sum = 0.0f;
      for (std::int64_t g = 0; g < w.num_groups(); ++g) {
        std::int32_t acc = 0;
        for (std::int64_t i = g * gs; i < (g + 1) * gs; ++i) {
          acc += (static_cast<std::int32_t>(x[i]) - zp) * weight(w, row, i);
        }
        sum = add_group(sum, acc, scale[g]);
      }
      p.y[m * n + c] = finish_output(p, m, c, sum);
    }
  }
}

}  // namespace

GroupedKernels grouped_kernels_portable() { return {"portable", run_portable}; }

}  // namespace quantkit::kernels::grouped_detail
