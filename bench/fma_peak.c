// The machine's fp32 FMA peak, measured: every core runs independent AVX2 FMA chains (enough
// of them to hide the FMA latency on both ports). Prints GFLOPS. Built by bench/engine.ts.
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

#define CHAINS 12
#define ITERS 200000000L / CHAINS

int main(void) {
  double start = omp_get_wtime();
  float sink = 0;
#pragma omp parallel reduction(+ : sink)
  {
    __m256 acc[CHAINS];
    const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_set1_ps((float)c);
    for (long i = 0; i < ITERS; i++)
      for (int c = 0; c < CHAINS; c++) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
    for (int c = 0; c < CHAINS; c++) sink += acc[c][0];
  }
  double seconds = omp_get_wtime() - start;
  double flops = 2.0 * 8 * CHAINS * (double)ITERS * omp_get_max_threads();
  printf("%f %d %f\n", flops / seconds / 1e9, omp_get_max_threads(), sink);
  return 0;
}
