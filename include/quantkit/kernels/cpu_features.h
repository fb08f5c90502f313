#pragma once
// Run-time CPU feature detection: the single selection point for optimized kernels.
// Every optimized kernel has a portable reference next to it and must produce identical
// results; QUANTKIT_ISA=portable|avx2|avx512 (environment) caps the level for testing.
#include <string_view>

namespace quantkit::kernels {

enum class IsaLevel { Portable = 0, Avx2 = 1, Avx512 = 2 };

// Highest level this CPU supports, capped by QUANTKIT_ISA if set (read once).
IsaLevel detected_isa();
// The level kernels dispatch on now: detected_isa() unless overridden by set_isa_override.
IsaLevel active_isa();
// For tests and benchmarks: force a level (clamped to detected_isa()). Not thread-safe with
// concurrent kernel calls; call it between runs.
void set_isa_override(IsaLevel level);
void clear_isa_override();
std::string_view isa_name(IsaLevel level);
// Whether the CPU has AVX-512 VBMI (vpermi2b / vpermt2b: 128-entry byte permutes, used by the
// 256-entry table lookups) and detected_isa() is Avx512 (QUANTKIT_ISA caps it).
bool cpu_has_avx512_vbmi();

}  // namespace quantkit::kernels
