// AVX-512 VNNI integer linear: vpdpbusd for int8 weights, vpdpwssd for int16 weights.
// Compiled with the AVX-512 flags plus avx512vnni (the pragma below); only called when
// cpu_has_avx512_vnni() (gemm_qlinear.cpp).
#include <cstdint>
#include <cstring>

#include "gemm_internal.h"

// After the shared headers, so that only this file's kernels are compiled for VNNI.
#pragma GCC target("avx512vnni")

#include "gemm_zmm_impl.h"

namespace quantkit::kernels::gemm_detail {

void qgemm_avx512_vnni(const QGemmProblem& p) {
  const bool s = p.x_signed;
  if (p.w->dtype() == DType::Int8) {
    s ? run_tiles<DpbusdKernel<true>>(p) : run_tiles<DpbusdKernel<false>>(p);
  } else {
    s ? run_tiles<MaddwdKernel<std::int16_t, true, true>>(p)
      : run_tiles<MaddwdKernel<std::int16_t, false, true>>(p);
  }
}

}  // namespace quantkit::kernels::gemm_detail
