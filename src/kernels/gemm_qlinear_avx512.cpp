// AVX-512BW integer linear (vpmaddwd on int16-widened operands), for AVX-512 CPUs without
// VNNI and for checking the VNNI kernels. Compiled with -mavx512f/bw/dq/vl.
#include "gemm_zmm_impl.h"

namespace quantkit::kernels::gemm_detail {

void qgemm_avx512(const QGemmProblem& p) {
  const bool s = p.x_signed;
  if (p.w->dtype() == DType::Int8) {
    s ? run_tiles<MaddwdKernel<std::int8_t, true, false>>(p)
      : run_tiles<MaddwdKernel<std::int8_t, false, false>>(p);
  } else {
    s ? run_tiles<MaddwdKernel<std::int16_t, true, false>>(p)
      : run_tiles<MaddwdKernel<std::int16_t, false, false>>(p);
  }
}

}  // namespace quantkit::kernels::gemm_detail
