// Kernels compiled once per x86 vector instruction set (GCC target attributes) and chosen at run time by what the
// CPU has, so one build runs everywhere and uses AVX-512 where it exists. A kernel is a struct whose
//   template <int W> static inline __attribute__((always_inline)) void run(args...)
// is written for W floats per vector register (16 with AVX-512, 8 with AVX2, 4 otherwise); being inlined into each
// clone below, it is vectorized for that clone's instruction set.
#pragma once

#include <utility>

namespace llava {

#if defined(__x86_64__)
template <class Kernel, class... Args>
__attribute__((target("avx512f,avx512bw"))) void run_avx512(Args&&... args) {
  Kernel::template run<16>(std::forward<Args>(args)...);
}
template <class Kernel, class... Args>
__attribute__((target("avx2,fma"))) void run_avx2(Args&&... args) {
  Kernel::template run<8>(std::forward<Args>(args)...);
}
#endif

template <class Kernel, class... Args>
void run_for_cpu(Args&&... args) {
#if defined(__x86_64__)
  static const int isa = __builtin_cpu_supports("avx512bw")                                  ? 2
                         : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1
                                                                                            : 0;
  if (isa == 2) return run_avx512<Kernel>(std::forward<Args>(args)...);
  if (isa == 1) return run_avx2<Kernel>(std::forward<Args>(args)...);
#endif
  Kernel::template run<4>(std::forward<Args>(args)...);
}

}  // namespace llava
