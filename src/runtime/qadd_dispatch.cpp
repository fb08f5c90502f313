#include "qadd_kernels.h"
#include "quantkit/kernels/cpu_features.h"

namespace quantkit::runtime::detail {

void qadd(const void* a, const void* b, void* out, std::int64_t n, const QAddParams& p) {
  switch (kernels::active_isa()) {
    case kernels::IsaLevel::Avx512:
      return qadd_avx512(a, b, out, n, p);
    case kernels::IsaLevel::Avx2:
      return qadd_avx2(a, b, out, n, p);
    case kernels::IsaLevel::Portable:
      break;
  }
  qadd_reference(a, b, out, n, p);
}

}  // namespace quantkit::runtime::detail
