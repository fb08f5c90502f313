#pragma once
// Internal: the table-lookup dispatch table (one per ISA level, filled once).
#include <cstdint>

#include "quantkit/kernels/lut.h"

namespace quantkit::kernels::lut_detail {

using LutFn = void (*)(const Lut256&, const std::uint8_t*, std::uint8_t*, std::int64_t);

struct LutKernels {
  const char* name = nullptr;
  LutFn apply = nullptr;  // null: the reference runs
};

LutKernels lut_kernels_avx2();
// Requires AVX-512 VBMI (cpu_has_avx512_vbmi).
LutKernels lut_kernels_avx512();

}  // namespace quantkit::kernels::lut_detail
