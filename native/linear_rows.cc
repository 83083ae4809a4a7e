// llava::linear(input, weight, bias?): aten::linear, except that a few rows (decoding: one token per request,
// at most 8 requests) without autograd go through a kernel of our own. Decoding is bound by streaming the weights
// from memory once per step; OpenBLAS 0.3.21's sgemm with 2-8 rows reads them at a third of the bandwidth, and its
// gemv serves one row only. Here every weight row is read once per step and multiplied by all the rows of the
// input while it is in registers, so a step for 8 requests reads the same bytes as a step for one.
//
// Registered as CompositeImplicitAutograd (m.def with a function): when autograd must record (grad mode on and an input that requires
// grad) or the shapes are not a decode's, it calls aten::linear, whose autograd is libtorch's own.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstring>

#include "isa.h"
#include "kernels.h"

// Vectors pass between always-inlined functions only, so GCC's note that their ABI differs by target is moot.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace llava {
namespace {

constexpr int64_t kMaxRows = 8;

// W floats in one vector register (GCC vector extensions: the same body compiles to AVX-512, AVX2 or SSE below).
template <int W>
struct Lanes {
  typedef float type __attribute__((vector_size(W * 4)));
  typedef uint16_t bits16 __attribute__((vector_size(W * 2)));
  typedef uint32_t wide __attribute__((vector_size(W * 4)));
};

// W weights from `p` as floats: fp32 as is, bf16 by moving its bits to a float's top half.
template <int W, typename T>
inline __attribute__((always_inline)) typename Lanes<W>::type load(const T* p) {
  typename Lanes<W>::type v;
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(&v, p, sizeof v);
  } else {
    typename Lanes<W>::bits16 h;
    std::memcpy(&h, p, sizeof h);
    auto bits = __builtin_convertvector(h, typename Lanes<W>::wide) << 16;
    std::memcpy(&v, &bits, sizeof v);
  }
  return v;
}

// The sum of a vector's lanes, by halves.
template <int W>
inline __attribute__((always_inline)) float hsum(typename Lanes<W>::type v) {
  if constexpr (W == 4) {
    return (v[0] + v[2]) + (v[1] + v[3]);
  } else {
    typename Lanes<W / 2>::type lo, hi;
    std::memcpy(&lo, &v, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof lo, sizeof hi);
    return hsum<W / 2>(lo + hi);
  }
}

// How far ahead of each weight row's reads to prefetch, and into L2 (prefetcht1): the more input rows, the longer a
// core spends on each weight vector and the further the hardware prefetcher falls behind. 16 KiB ahead a step for 8
// rows took 0.7x the time it took with no prefetch or with 4 KiB ahead into L1, and one row gained ~5% (measured on
// this project's 2-core Xeon, the 57 products of the benchmark's LLaMA; 2 KiB ahead into L1 helped 8 rows not at all).
constexpr int kPrefetchBytes = 16384;

// Keeps `v` in a register: without this GCC folds a vector used by several FMAs into each FMA as a memory operand,
// so a value loaded once in the source is loaded once per use. Loads, not FMAs, bound this kernel (a core here
// issues about one 512-bit load a cycle and two FMAs), so that folding made 8 rows 1.6x slower.
#if defined(__x86_64__)
#define LLAVA_IN_REGISTER(v) asm("" : "+v"(v))
#elif defined(__aarch64__)
#define LLAVA_IN_REGISTER(v) asm("" : "+w"(v))
#else
#define LLAVA_IN_REGISTER(v)
#endif

// out[m][r] = x[m, :] · w[r, :] for R weight rows and M input rows; x [M, K] fp32, w [R, K] rows of length K.
// Per k-step the R weight vectors are loaded into registers, then each input vector once, used by R FMAs:
// M + R loads for M·R FMAs, with the M·R accumulators in registers too.
template <int W, int M, int R, typename T>
inline __attribute__((always_inline)) void block(const T* w, const float* x, int64_t K, float* out, int64_t ldo) {
  using V = typename Lanes<W>::type;
  V acc[M][R] = {};
  int64_t k = 0;
  for (; k + W <= K; k += W) {
    V wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      wv[r] = load<W>(w + r * K + k);
      LLAVA_IN_REGISTER(wv[r]);
      __builtin_prefetch(reinterpret_cast<const char*>(w + r * K + k) + kPrefetchBytes, 0, 2);
    }
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      V xv;
      std::memcpy(&xv, x + m * K + k, sizeof xv);
      LLAVA_IN_REGISTER(xv);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[m][r] += wv[r] * xv;
    }
  }
  for (int m = 0; m < M; ++m)
    for (int r = 0; r < R; ++r) {
      float s = hsum<W>(acc[m][r]);
      for (int64_t j = k; j < K; ++j) s += static_cast<float>(w[r * K + j]) * x[m * K + j];
      out[m * ldo + r] = s;
    }
}

// Weight rows per block: as many as the registers hold beside their R weight vectors, one input vector and the
// M·R accumulators (more rows, more independent FMA chains and fewer loads per FMA), at most 8.
constexpr int rows_per_block(int M, int registers) {
  const int R = (registers - 1) / (M + 1);
  return R < 1 ? 1 : R > 8 ? 8 : R;
}

// y[:, n0:n1] for M input rows: blocks of R weight rows, then single rows for the remainder.
template <int W, int M, typename T>
inline __attribute__((always_inline)) void rows(const T* w, const float* x, int64_t K, float* y, int64_t N,
                                                int64_t n0, int64_t n1) {
  constexpr int R = rows_per_block(M, W == 16 ? 32 : 16);  // AVX-512: 32 vector registers, else 16
  int64_t n = n0;
  for (; n + R <= n1; n += R) block<W, M, R>(w + n * K, x, K, y + n, N);
  for (; n < n1; ++n) block<W, M, 1>(w + n * K, x, K, y + n, N);
}

template <int W, typename T>
inline __attribute__((always_inline)) void any_rows(int64_t M, const T* w, const float* x, int64_t K, float* y,
                                                    int64_t N, int64_t n0, int64_t n1) {
  switch (M) {
    case 1: return rows<W, 1>(w, x, K, y, N, n0, n1);
    case 2: return rows<W, 2>(w, x, K, y, N, n0, n1);
    case 3: return rows<W, 3>(w, x, K, y, N, n0, n1);
    case 4: return rows<W, 4>(w, x, K, y, N, n0, n1);
    case 5: return rows<W, 5>(w, x, K, y, N, n0, n1);
    case 6: return rows<W, 6>(w, x, K, y, N, n0, n1);
    case 7: return rows<W, 7>(w, x, K, y, N, n0, n1);
    default: return rows<W, 8>(w, x, K, y, N, n0, n1);
  }
}

// y[:, n0:n1] for any M ≤ 8, compiled per instruction set (isa.h).
struct Rows {
  template <int W, typename T>
  static inline __attribute__((always_inline)) void run(int64_t M, const T* w, const float* x, int64_t K, float* y,
                                                        int64_t N, int64_t n0, int64_t n1) {
    any_rows<W>(M, w, x, K, y, N, n0, n1);
  }
};

// x [M, K] fp32 contiguous, weight [N, K] contiguous of T -> y [M, N] fp32, output rows split across threads.
template <typename T>
void decode_linear(const float* x, int64_t M, int64_t K, const at::Tensor& weight, float* y) {
  const int64_t N = weight.size(0);
  const T* w = weight.data_ptr<T>();
  // A thread takes at least 256 KiB of weights: below that waking the other thread costs more than it saves.
  const int64_t grain = std::max<int64_t>(1, (256 << 10) / std::max<int64_t>(1, K * weight.element_size()));
  at::parallel_for(0, N, grain, [&](int64_t n0, int64_t n1) { run_for_cpu<Rows>(M, w, x, K, y, N, n0, n1); });
}

bool decodes(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias) {
  if (input.dim() < 1 || weight.dim() != 2 || input.size(-1) != weight.size(1)) return false;
  if (input.numel() == 0 || input.numel() / weight.size(1) > kMaxRows) return false;
  if (!input.device().is_cpu() || !weight.device().is_cpu() || input.scalar_type() != weight.scalar_type()) return false;
  const auto type = weight.scalar_type();
  // Not Half: libtorch 1.13 has no CPU Half kernel for linear, and a model that decoded in Half but could not
  // prefill would fail later and less clearly (src/models/compute-dtype.ts computes fp16 weights in fp32).
  if (type != at::kFloat && type != at::kBFloat16) return false;
  if (bias && bias->defined() && (bias->scalar_type() != type || !bias->device().is_cpu())) return false;
  bool records = at::GradMode::is_enabled() &&
                 (input.requires_grad() || weight.requires_grad() || (bias && bias->defined() && bias->requires_grad()));
  return !records;
}

}  // namespace

at::Tensor linear(const at::Tensor& input, const at::Tensor& weight, const c10::optional<at::Tensor>& bias) {
  if (!decodes(input, weight, bias)) return at::linear(input, weight, bias);
  // A decode step calls this ~60 times for little work each, so every libtorch call it skips counts: fp32
  // contiguous inputs are read in place, and an fp32 result is written straight into the returned tensor.
  at::NoGradGuard no_grad;
  const int64_t K = weight.size(1), N = weight.size(0), M = input.numel() / K;
  const at::Tensor w = weight.is_contiguous() ? weight : weight.contiguous();
  const bool fp32 = input.scalar_type() == at::kFloat;
  const at::Tensor x = fp32 && input.is_contiguous() ? input : input.to(at::kFloat).contiguous();  // [..., K]
  auto shape = input.sizes().vec();
  shape.back() = N;
  at::Tensor y = at::empty(shape, x.options());  // [..., N] fp32
  switch (w.scalar_type()) {
    case at::kFloat: decode_linear<float>(x.data_ptr<float>(), M, K, w, y.data_ptr<float>()); break;
    default: decode_linear<c10::BFloat16>(x.data_ptr<float>(), M, K, w, y.data_ptr<float>()); break;
  }
  if (bias && bias->defined()) y.add_(*bias);
  return fp32 ? y : y.to(input.scalar_type());
}

TORCH_LIBRARY_FRAGMENT(llava, m) {
  m.def("linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor", &linear);
}

}  // namespace llava
