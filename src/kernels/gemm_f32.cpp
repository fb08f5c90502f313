// fp32 linear on Debian's OpenBLAS (cblas_sgemm), single-threaded for reproducibility.
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "quantkit/core/error.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::kernels {
namespace {

// OpenBLAS 0.3.21 splits large GEMMs over its threads with blockings that depend on the
// thread count, so results could change with it. One thread is the only setting that is
// reproducible everywhere; OpenBLAS has no per-call control before 0.3.27, so this is the
// process-wide setting, re-checked on every call in case the application changed it.
void pin_openblas_to_one_thread() {
  if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

}  // namespace

void gemm_f32(std::int64_t m, std::int64_t n, std::int64_t k, const float* x, const float* w,
              const float* bias, float* y) {
  constexpr const char* kWhere = "gemm_f32";
  constexpr std::int64_t kMaxBlasInt = std::numeric_limits<blasint>::max();
  check_argument(m >= 0 && m <= kMaxBlasInt, kWhere, "m", m, "0 <= m <= BLAS int max");
  check_argument(n >= 0 && n <= kMaxBlasInt, kWhere, "n", n, "0 <= n <= BLAS int max");
  check_argument(k >= 0 && k <= kMaxBlasInt, kWhere, "k", k, "0 <= k <= BLAS int max");
  if (m == 0 || n == 0) return;
  for (std::int64_t r = 0; r < m; ++r) {
    if (bias) {
      std::copy(bias, bias + n, y + r * n);
    } else {
      std::fill(y + r * n, y + (r + 1) * n, 0.0f);
    }
  }
  if (k == 0) return;  // y = bias (or 0); sgemm rejects lda = 0
  pin_openblas_to_one_thread();
  // Row-major y[m,n] = x[m,k] · w[n,k]ᵀ + y.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, x, static_cast<blasint>(k), w,
              static_cast<blasint>(k), 1.0f, y, static_cast<blasint>(n));
}

Tensor linear_f32(const Tensor& x, const Tensor& w, const std::optional<Tensor>& bias) {
  constexpr const char* kWhere = "linear_f32";
  check_argument(x.dtype() == DType::Float32, kWhere, "x.dtype", dtype_name(x.dtype()), "float32");
  check_argument(w.dtype() == DType::Float32, kWhere, "w.dtype", dtype_name(w.dtype()), "float32");
  check_argument(w.dim() == 2, kWhere, "w.shape", shape_to_string(w.shape()),
                 "a 2-d [N, K] weight");
  const std::int64_t n = w.size(0), k = w.size(1);
  check_argument(x.dim() >= 1 && x.size(-1) == k, kWhere, "x.shape", shape_to_string(x.shape()),
                 "[..., K] with K = " + std::to_string(k) + " (the weight's input size)");
  if (bias) {
    check_argument(bias->dtype() == DType::Float32, kWhere, "bias.dtype", dtype_name(bias->dtype()),
                   "float32");
    check_argument(bias->shape() == Shape{n}, kWhere, "bias.shape", shape_to_string(bias->shape()),
                   "[" + std::to_string(n) + "]");
  }
  Shape out_shape = x.shape();
  out_shape.back() = n;
  std::int64_t m = 1;
  for (std::int64_t d = 0; d + 1 < x.dim(); ++d) m *= x.size(d);
  Tensor y = Tensor::empty(out_shape, DType::Float32);
  // sgemm picks other kernels (and sums in another order) for other row counts, so a row's
  // result would depend on how many rows come with it — a model's outputs on the batch
  // size. Dim 0 is the batch: a 2-d x [B, K] goes row by row (each row a sample; the weight
  // stays in cache across calls), a higher-rank x [B, T, ..., K] one call per sample with its
  // T·… rows (a transformer's tokens: one GEMM per sequence instead of one per token, and
  // still the same bits whatever B is).
  const std::int64_t rows_per_call = x.dim() >= 3 && x.size(0) > 0 ? m / x.size(0) : 1;
  for (std::int64_t r = 0; r < m; r += rows_per_call) {
    gemm_f32(rows_per_call, n, k, x.data<float>() + r * k, w.data<float>(),
             bias ? bias->data<float>() : nullptr, y.data<float>() + r * n);
  }
  return y;
}

}  // namespace quantkit::kernels
