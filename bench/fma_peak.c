// The machine's fp32 FMA peak, measured: every core runs independent FMA chains of the widest vectors the
// compiler is allowed (AVX-512 where -march=native has it, else AVX2), enough of them to hide the FMA latency
// on both ports. Prints GFLOPS. Built by bench/fma_peak.ts.
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

#define CHAINS 12
#define ITERS 200000000L / CHAINS

#ifdef __AVX512F__
typedef __m512 vec;
#define LANES 16
#define set1 _mm512_set1_ps
#define fmadd _mm512_fmadd_ps
#else
typedef __m256 vec;
#define LANES 8
#define set1 _mm256_set1_ps
#define fmadd _mm256_fmadd_ps
#endif

int main(void) {
  double start = omp_get_wtime();
  float sink = 0;
#pragma omp parallel reduction(+ : sink)
  {
    vec acc[CHAINS];
    const vec a = set1(0.999999f), b = set1(1e-7f);
    for (int c = 0; c < CHAINS; c++) acc[c] = set1((float)c);
    for (long i = 0; i < ITERS; i++)
      for (int c = 0; c < CHAINS; c++) acc[c] = fmadd(acc[c], a, b);
    for (int c = 0; c < CHAINS; c++) sink += acc[c][0];
  }
  double seconds = omp_get_wtime() - start;
  double flops = 2.0 * LANES * CHAINS * (double)ITERS * omp_get_max_threads();
  printf("%f %d %f\n", flops / seconds / 1e9, omp_get_max_threads(), sink);
  return 0;
}
