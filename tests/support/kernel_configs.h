#pragma once
// The integer GEMM's kernel configurations for the kernel testers: every ISA level this CPU
// has, AVX-512 with and without VNNI, a scope that selects one, and a one-time line in the
// test log naming the levels that ran (levels the CPU lacks cannot be checked here).
#include <iostream>
#include <string>
#include <vector>

#include "quantkit/kernels/cpu_features.h"
#include "quantkit/kernels/gemm.h"

namespace quantkit::testing {

struct KernelConfig {
  std::string name;  // kernels::active_qlinear_kernel() while the config is set
  kernels::IsaLevel level;
  bool vnni;
};

inline std::vector<KernelConfig> kernel_configs() {
  using kernels::IsaLevel;
  std::vector<KernelConfig> out{{"portable", IsaLevel::Portable, false}};
  if (static_cast<int>(kernels::detected_isa()) >= static_cast<int>(IsaLevel::Avx2)) {
    out.push_back({"avx2", IsaLevel::Avx2, false});
  }
  if (kernels::detected_isa() == IsaLevel::Avx512) {
    out.push_back({"avx512", IsaLevel::Avx512, false});
    if (kernels::cpu_has_avx512_vnni()) out.push_back({"avx512_vnni", IsaLevel::Avx512, true});
  }
  return out;
}

// kernel_configs(), printed once per test process.
inline const std::vector<KernelConfig>& kernel_configs_reported() {
  static const std::vector<KernelConfig> configs = [] {
    auto c = kernel_configs();
    std::cout << "[ kernels  ] ISA levels run on this CPU:";
    for (const auto& k : c) std::cout << ' ' << k.name;
    if (!kernels::cpu_has_avx512_vnni()) std::cout << " (avx512_vnni not checked: CPU lacks it)";
    std::cout << std::endl;
    return c;
  }();
  return configs;
}

// Sets a configuration for its lifetime and restores the defaults.
class ScopedKernel {
 public:
  explicit ScopedKernel(const KernelConfig& c) {
    kernels::set_isa_override(c.level);
    kernels::set_avx512_vnni_enabled(c.vnni);
  }
  ~ScopedKernel() {
    kernels::clear_isa_override();
    kernels::set_avx512_vnni_enabled(true);
  }
  ScopedKernel(const ScopedKernel&) = delete;
  ScopedKernel& operator=(const ScopedKernel&) = delete;
};

}  // namespace quantkit::testing
