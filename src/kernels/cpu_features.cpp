#include "quantkit/kernels/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <string>

namespace quantkit::kernels {
namespace {

IsaLevel probe_cpu() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("fma")) {
    return IsaLevel::Avx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return IsaLevel::Avx2;
#endif
  return IsaLevel::Portable;
}

IsaLevel cap_from_environment(IsaLevel level) {
  const char* env = std::getenv("QUANTKIT_ISA");
  if (!env) return level;
  const std::string v(env);
  IsaLevel cap = level;
  if (v == "portable") cap = IsaLevel::Portable;
  else if (v == "avx2") cap = IsaLevel::Avx2;
  else if (v == "avx512") cap = IsaLevel::Avx512;
  return static_cast<int>(cap) < static_cast<int>(level) ? cap : level;
}

std::atomic<int> g_override{-1};

}  // namespace

IsaLevel detected_isa() {
  static const IsaLevel level = cap_from_environment(probe_cpu());
  return level;
}

IsaLevel active_isa() {
  const int o = g_override.load(std::memory_order_relaxed);
  return o < 0 ? detected_isa() : static_cast<IsaLevel>(o);
}

void set_isa_override(IsaLevel level) {
  const IsaLevel top = detected_isa();
  g_override.store(static_cast<int>(level) < static_cast<int>(top) ? static_cast<int>(level)
                                                                     : static_cast<int>(top));
}

void clear_isa_override() { g_override.store(-1); }

bool cpu_has_avx512_vbmi() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vbmi") != 0;
  }();
  return has && detected_isa() == IsaLevel::Avx512;
#else
  return false;
#endif
}

std::string_view isa_name(IsaLevel level) {
  switch (level) {
    case IsaLevel::Portable: return "portable";
    case IsaLevel::Avx2: return "avx2";
    case IsaLevel::Avx512: return "avx512";
  }
  return "unknown";
}

}  // namespace quantkit::kernels
