// The time loops of lstmkit's CPU backend: per step one recurrent matmul (BLAS) and one fused
// pointwise pass, forward and backward, for LSTM, GRU (reset_after both ways) and SimpleRNN.
//
// Built on first use by lstmkit/ops/_cpu/build.py with the system C++ compiler and loaded with
// ctypes: no Python or torch headers, so it compiles in about a second (a torch C++ extension
// including ATen took 15.6 s on the project's 2-core machine). The gemm is the BLAS that torch
// itself links (`sgemm_`/`dgemm_`, handed in by address); without one a plain loop is used.
//
// Dimensions: T time, B batch, H hidden, G gates (LSTM 4, GRU 3, SimpleRNN 1), GH = G*H.
// Every buffer is time-major, (T, B, ·) contiguous, so the rows one thread owns at one step are a
// single contiguous block. Threads split the batch and each runs the whole time loop on its rows:
// one parallel region per call, no barrier per step (per-step barriers cost milliseconds when the
// cores are shared with other processes).
//
// The math, gate order i,f,g,o / r,z,n and the masking rules are those of lstmkit/ops/reference.py:
// at a masked step the state is carried, the output is the carried state (or 0 with zero_output).

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <new>
#include <type_traits>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define LK_HAVE_MXCSR 1
#endif

namespace {

// ---------------------------------------------------------------- BLAS, row-major wrapper
using sgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                         const float*, const int*, const float*, const int*, const float*, float*, const int*);
using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const double*,
                         const double*, const int*, const double*, const int*, const double*, double*, const int*);
sgemm_t g_sgemm = nullptr;
dgemm_t g_dgemm = nullptr;

template <typename S>
void gemm_loop(bool ta, bool tb, int M, int N, int K, S alpha, const S* A, int lda, const S* B, int ldb, S beta,
               S* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      S acc = 0;
      for (int k = 0; k < K; ++k)
        acc += (ta ? A[int64_t(k) * lda + i] : A[int64_t(i) * lda + k]) *
               (tb ? B[int64_t(j) * ldb + k] : B[int64_t(k) * ldb + j]);
      C[int64_t(i) * ldc + j] = alpha * acc + (beta == S(0) ? S(0) : beta * C[int64_t(i) * ldc + j]);
    }
  }
}

// Row-major C (M x N) = alpha op(A) (M x K) op(B) (K x N) + beta C, through column-major BLAS:
// C^T = op(B)^T op(A)^T.
template <typename S>
void gemm(bool ta, bool tb, int M, int N, int K, S alpha, const S* A, int lda, const S* B, int ldb, S beta, S* C,
          int ldc);

template <>
void gemm<float>(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc) {
  if (g_sgemm == nullptr) return gemm_loop(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
  g_sgemm(&cb, &ca, &N, &M, &K, &alpha, B, &ldb, A, &lda, &beta, C, &ldc);
}

template <>
void gemm<double>(bool ta, bool tb, int M, int N, int K, double alpha, const double* A, int lda, const double* B,
                  int ldb, double beta, double* C, int ldc) {
  if (g_dgemm == nullptr) return gemm_loop(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  const char ca = ta ? 'T' : 'N', cb = tb ? 'T' : 'N';
  g_dgemm(&cb, &ca, &N, &M, &K, &alpha, B, &ldb, A, &lda, &beta, C, &ldc);
}

// ---------------------------------------------------------------- activations
enum Act { TANH = 0, SIGMOID = 1, HARD_SIGMOID = 2, RELU = 3, LINEAR = 4 };

// float exp for |x| < 88 to about 1 ulp (Cody-Waite reduction by ln 2, degree-6 polynomial), written
// branch-free so that the compiler vectorises the loops that call it; libm's expf does not vectorise.
inline float exp_f(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n == n ? n : 0.0f) + 127) << 23;  // NaN: no int conversion of it
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x == x ? p * scale : x;  // NaN in, NaN out (the clamp above lets NaN through)
}

inline float sigmoid_f(float x) { return 1.0f / (1.0f + exp_f(-x)); }

// tanh: the odd Taylor series below |x| = 0.3 (truncation < 1e-9 relative), 1 - 2/(e^{2|x|}+1) above.
inline float tanh_f(float x) {
  const float a = std::fabs(x);
  const float x2 = x * x;
  const float small =
      x * (1.0f + x2 * (-0.333333333f + x2 * (0.133333333f + x2 * (-0.0539682540f + x2 * (0.0218694885f +
                                                                                        x2 * -0.00886323552f)))));
  const float e = exp_f(2.0f * (a > 9.0f ? 9.0f : a));  // written so that NaN stays NaN (tanh(NaN) = NaN)
  const float big = std::copysign(1.0f - 2.0f / (e + 1.0f), x);
  return a < 0.3f ? small : big;
}

inline double sigmoid_f(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double tanh_f(double x) { return std::tanh(x); }

// y = act(x). The activation is a template argument so that the loops calling it vectorise; DYN
// reads it from `code` at every element instead (the generic path for the rarer combinations).
constexpr int DYN = -1;

template <int A, typename S>
inline S act(S x, int code) {
  if constexpr (A == DYN) {
    switch (code) {
      case TANH: return act<TANH>(x, code);
      case SIGMOID: return act<SIGMOID>(x, code);
      case HARD_SIGMOID: return act<HARD_SIGMOID>(x, code);
      case RELU: return act<RELU>(x, code);
      default: return x;
    }
  } else if constexpr (A == TANH) {
    return tanh_f(x);
  } else if constexpr (A == SIGMOID) {
    return sigmoid_f(x);
  } else if constexpr (A == HARD_SIGMOID) {  // Keras 3: relu6(x + 3) / 6
    const S y = x + S(3);
    return (y < S(0) ? S(0) : (y > S(6) ? S(6) : y)) / S(6);
  } else if constexpr (A == RELU) {
    return x < S(0) ? S(0) : x;  // relu(NaN) = NaN, as torch.relu
  } else {
    return x;
  }
}

// act'(x) written with the output y = act(x), which is what the forward stored. The conditions
// match torch's backward of the same functions: hardsigmoid passes the gradient for -3 < x < 3,
// i.e. 0 < y < 1; relu for y > 0.
template <int A, typename S>
inline S dact(S y, int code) {
  if constexpr (A == DYN) {
    switch (code) {
      case TANH: return dact<TANH>(y, code);
      case SIGMOID: return dact<SIGMOID>(y, code);
      case HARD_SIGMOID: return dact<HARD_SIGMOID>(y, code);
      case RELU: return dact<RELU>(y, code);
      default: return S(1);
    }
  } else if constexpr (A == TANH) {
    return S(1) - y * y;
  } else if constexpr (A == SIGMOID) {
    return y * (S(1) - y);
  } else if constexpr (A == HARD_SIGMOID) {
    return (y > S(0) && y < S(1)) ? S(1) / S(6) : S(0);
  } else if constexpr (A == RELU) {
    return y > S(0) ? S(1) : S(0);
  } else {
    return S(1);
  }
}

}  // namespace

// ---------------------------------------------------------------- the call's arguments
// One struct for every call, described to the loader (lstmkit/ops/_cpu/build.py) by lk_args_layout()
// and lk_args_size(), so its layout has this one source. LK_ABI_VERSION changes with any change
// to the meaning of the fields or the functions below; build.py reads it from this file.
// K = I + H: the recurrent matmul's input at step t is the row [x_t ⊙ in_mask | h_prev ⊙ rec_mask].
#define LK_ABI_VERSION 8
#define LK_ARGS_FIELDS(X) \
  X(int32_t, kind)  /* 0 LSTM, 1 GRU, 2 SimpleRNN */ \
  X(int32_t, dtype)  /* 0 float32, 1 float64 */ \
  X(int64_t, T) X(int64_t, B) X(int64_t, I) X(int64_t, H)  /* 64-bit: their products index the buffers */ \
  X(int32_t, reverse) X(int32_t, act) X(int32_t, rec_act) X(int32_t, zero_output) X(int32_t, reset_after) \
  X(int32_t, training) X(int32_t, nthreads) X(int32_t, unused) \
  X(int64_t, sx_b) X(int64_t, sx_t) X(int64_t, sx_i)  /* strides of x, in elements */ \
  X(int64_t, sdy_b) X(int64_t, sdy_t) X(int64_t, sdy_h)  /* strides of dY (0 where broadcast) */ \
  X(const void*, x)  /* (B, T, I) */ \
  X(const void*, in_mask)  /* (B, I) or null */ \
  X(const void*, W)  /* (GH, K) = [W_ih | W_hh] */ \
  X(const void*, bias)  /* (GH,) b_ih + b_hh (GRU reset_after: b_ih + [b_hr, b_hz, 0]) */ \
  X(const void*, b_hn)  /* (H,) GRU reset_after */ \
  X(const void*, h0)  /* (B, H) */ \
  X(const void*, c0)  /* (B, H), LSTM */ \
  X(const void*, rec_mask)  /* (B, H) or null */ \
  X(const uint8_t*, mask)  /* (B, T) or null; 1 = real step */ \
  X(void*, Y)  /* (B, T, H) out */ \
  X(void*, hN)  /* (B, H) out */ \
  X(void*, cN)  /* (B, H) out, LSTM */ \
  X(void*, XH)  /* (T, B, K) training: the matmul input of every step */ \
  X(void*, G)  /* (T, B, GH) training: the activated gates (LSTM i,f,g,o; GRU r,z,n; SimpleRNN h) */ \
  X(void*, Hprev)  /* (T, B, H) GRU with rec_mask, training: h_prev (without rec_mask it is in XH) */ \
  X(void*, C)  /* (T, B, H) LSTM, training: the cell state after step t (carried at masked steps) */ \
  X(void*, TC)  /* (T, B, H) LSTM, training: act(c_t); 0 at masked steps */ \
  X(void*, HN)  /* (T, B, H) GRU, training: R_n h_in + b_hn (reset_after; 0 at masked steps) or r ⊙ h_in */ \
  X(const void*, dY)  /* (B, T, H) or null */ \
  X(const void*, dhN)  /* (B, H) or null */ \
  X(const void*, dcN)  /* (B, H) or null */ \
  X(void*, dG)  /* (T, B, GH) out: gradient of the gates' pre-activations */ \
  X(void*, dGh)  /* (T, B, GH) out, GRU reset_after: gradient of h_in W_hh^T + b_hh */ \
  X(void*, dX)  /* (B, T, I) out, or null when x needs no gradient */ \
  X(void*, dh0)  /* (B, H) out */ \
  X(void*, dc0)  /* (B, H) out, LSTM */ \
  X(void*, db)  /* (nthreads, GH) out: each thread's sum of dG over its rows and all steps */ \
  X(void*, dbh)  /* (nthreads, GH) out, GRU reset_after: the same for dGh */ \
  /* ---- the variants' path (variant = 1; lstmkit/ops/variants.py): LSTM, GRU with reset_after ---- */ \
  /* x is then the input projection XW (B, T, GH) (LN(W x) + b_ih, LSTM: + b_hh, made by torch), I = GH, */ \
  /* W = W_hh (GH, H), K = H, bias the GRU's b_hh (GH,) or null, XH (T, B, H) holds h_in. */ \
  X(int32_t, variant) X(int32_t, unused2) \
  X(int64_t, szh_b) X(int64_t, szh_t) X(int64_t, szc_b) X(int64_t, szc_t)  /* zoneout strides (0: a rate) */ \
  X(const void*, peep)  /* (3H,) p_i, p_f, p_o, or null */ \
  X(const void*, ln_hh_w) X(const void*, ln_hh_b)  /* (GH,) LN of h_in W_hh^T, or null */ \
  X(const void*, ln_c_w) X(const void*, ln_c_b)  /* (H,) LSTM: LN of c before act, or null */ \
  X(const void*, zh) X(const void*, zc)  /* (B, T, H) zoneout of h / c (unit stride), or null */ \
  X(void*, CT)  /* (T, B, H) LSTM, training: c~_t, the cell state before zoneout */ \
  X(void*, UN) X(void*, US)  /* (T, B, GH), (T, B) training, LN_hh: the normalised u and 1/sigma */ \
  X(void*, LC) X(void*, CS)  /* (T, B, H), (T, B) training, LN_c: the same for c~ */ \
  X(void*, dpeep)  /* (nthreads, 3H) out: per-thread sums of dp_i, dp_f, dp_o */ \
  X(void*, dln_hh)  /* (nthreads, 2 GH) out: per-thread sums of dgain, dbias of LN_hh */ \
  X(void*, dln_c)  /* (nthreads, 2 H) out: the same for LN_c */

struct LkArgs {
#define LK_DECLARE(type, name) type name;
  LK_ARGS_FIELDS(LK_DECLARE)
#undef LK_DECLARE
};

namespace {

// The rows [b0, b0 + n) that one thread owns, and their slots in the buffers.
template <typename S>
struct Rows {
  const LkArgs& a;
  int64_t b0, n;
  S* at(void* base, int64_t t, int64_t width) const { return static_cast<S*>(base) + (t * a.B + b0) * width; }
  const S* at(const void* base, int64_t t, int64_t width) const {
    return static_cast<const S*>(base) + (int64_t(t) * a.B + b0) * width;
  }
  S* bt(void* base, int64_t r, int64_t t, int64_t width) const {  // (B, T, width) layout
    return static_cast<S*>(base) + ((int64_t(b0) + r) * a.T + t) * width;
  }
  const S* row(const void* base, int64_t r, int64_t width) const {  // (B, width) layout
    return base == nullptr ? nullptr : static_cast<const S*>(base) + (int64_t(b0) + r) * width;
  }
  bool real(int64_t t, int64_t r) const { return a.mask == nullptr || a.mask[(b0 + r) * a.T + t] != 0; }
};

// The batch-first tensors (x, Y, dY, dX) hold one short row per sequence and step, 64 KB apart at
// the IMDB shape: touched one step at a time they cost a cache and TLB miss per row (perf: the x
// copy was 30% of the LSTM forward's own time, ahead even of software prefetching). So they pass
// through a per-thread time-major scratch BLOCK steps at a time: per sequence one contiguous run.
constexpr int BLOCK = 16;

// The block of the steps s in [s0, s0 + len) (forward order) covers the positions [p0, p0 + len).
struct Block {
  int64_t p0, len;
  Block(const LkArgs& a, int64_t s0, int64_t len_) : p0(a.reverse ? a.T - s0 - len_ : s0), len(len_) {}
};

// dst (len, n, width) time-major <- src rows b0 + r, positions p0 + k, with the given strides (times scale).
template <typename S>
void gather(S* __restrict__ dst, const S* src, int64_t sb, int64_t st, int64_t sw, const Block& blk, int64_t b0,
            int64_t n, int64_t width, const S* scale) {
  for (int64_t r = 0; r < n; ++r) {
    const S* sr = src + (b0 + r) * sb + blk.p0 * st;
    const S* m = scale ? scale + (b0 + r) * width : nullptr;
    for (int64_t k = 0; k < blk.len; ++k) {
      S* d = dst + (k * n + r) * width;
      const S* q = sr + k * st;
      for (int64_t w = 0; w < width; ++w) d[w] = m ? q[w * sw] * m[w] : q[w * sw];
    }
  }
}

// dst (B, T, width) contiguous, rows b0 + r, positions p0 + k <- src (len, n, width) time-major (times scale).
template <typename S>
void scatter(S* dst, const S* __restrict__ src, const LkArgs& a, const Block& blk, int64_t b0, int64_t n,
             int64_t width, const S* scale) {
  for (int64_t r = 0; r < n; ++r) {
    S* dr = dst + ((b0 + r) * a.T + blk.p0) * width;
    const S* m = scale ? scale + (b0 + r) * width : nullptr;
    for (int64_t k = 0; k < blk.len; ++k) {
      const S* q = src + (k * n + r) * width;
      S* d = dr + k * width;
      if (m)
        for (int64_t w = 0; w < width; ++w) d[w] = q[w] * m[w];
      else
        std::memcpy(d, q, sizeof(S) * width);
    }
  }
}

// ================================================================= pointwise passes
// One fused loop over a row's H units per function, with restrict-qualified arguments so that the
// compiler vectorises it (inside the long time-loop functions it did not). A: activation,
// RA: recurrent activation, as template arguments (DYN: read ac, ra at run time).

template <typename S, int A, int RA>
void lstm_fwd_row(int H, S* __restrict__ g, const S* __restrict__ bias, S* __restrict__ c, S* __restrict__ h,
                  S* __restrict__ tc, int ac, int ra) {
  for (int j = 0; j < H; ++j) {
    const S i = act<RA>(g[j] + bias[j], ra);
    const S f = act<RA>(g[H + j] + bias[H + j], ra);
    const S gg = act<A>(g[2 * H + j] + bias[2 * H + j], ac);
    const S o = act<RA>(g[3 * H + j] + bias[3 * H + j], ra);
    const S cn = f * c[j] + i * gg;  // c = f c + i g
    const S tcn = act<A>(cn, ac);
    g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
    c[j] = cn, tc[j] = tcn, h[j] = o * tcn;  // h = o act(c)
  }
}

template <typename S, int A, int RA>
void lstm_bwd_row(int H, const S* __restrict__ g, const S* __restrict__ tc, const S* __restrict__ cp,
                  const S* __restrict__ dh, S* __restrict__ dc, S* __restrict__ dg, S* __restrict__ db, int ac,
                  int ra) {
  for (int j = 0; j < H; ++j) {
    const S i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
    const S d = dc[j] + dh[j] * o * dact<A>(tc[j], ac);  // total dL/dc_t
    const S di = d * gg * dact<RA>(i, ra), df = d * cp[j] * dact<RA>(f, ra);
    const S dgg = d * i * dact<A>(gg, ac), dout = dh[j] * tc[j] * dact<RA>(o, ra);
    dg[j] = di, dg[H + j] = df, dg[2 * H + j] = dgg, dg[3 * H + j] = dout;
    dc[j] = d * f;  // dc_prev = dc f
  }
  // A loop apart: summed in the loop above, the 8 offsets into dg and db need more runtime alias
  // checks than gcc versions a loop for, and it stayed scalar.
  for (int k = 0; k < 4 * H; ++k) db[k] += dg[k];
}

template <typename S, int A>
void rnn_fwd_row(int H, S* __restrict__ g, const S* __restrict__ bias, S* __restrict__ h, int ac) {
  for (int j = 0; j < H; ++j) h[j] = g[j] = act<A>(g[j] + bias[j], ac);  // h = act(W x + R h + b)
}

template <typename S, int A>
void rnn_bwd_row(int H, const S* __restrict__ g, const S* __restrict__ dh, S* __restrict__ dg,
                 S* __restrict__ db, int ac) {
  for (int j = 0; j < H; ++j) dg[j] = dh[j] * dact<A>(g[j], ac);
  for (int j = 0; j < H; ++j) db[j] += dg[j];
}

// GRU, reset_after: g holds x W_ih^T, hh holds h_in W_hh^T.
template <typename S, int A, int RA>
void gru_fwd_row(int H, S* __restrict__ g, const S* __restrict__ hh, const S* __restrict__ bias,
                 const S* __restrict__ b_hn, S* __restrict__ hn, S* __restrict__ h, int ac, int ra) {
  for (int j = 0; j < H; ++j) {
    const S r = act<RA>(g[j] + hh[j] + bias[j], ra);
    const S z = act<RA>(g[H + j] + hh[H + j] + bias[H + j], ra);
    const S hnj = hh[2 * H + j] + b_hn[j];  // R_n h + b_hn
    const S n = act<A>(g[2 * H + j] + bias[2 * H + j] + r * hnj, ac);
    g[j] = r, g[H + j] = z, g[2 * H + j] = n, hn[j] = hnj;
    h[j] = (S(1) - z) * n + z * h[j];
  }
}

template <typename S, int A, int RA>
void gru_bwd_row(int H, const S* __restrict__ g, const S* __restrict__ hn, const S* __restrict__ hp,
                 const S* __restrict__ dh, S* __restrict__ dg, S* __restrict__ dgh, S* __restrict__ db,
                 S* __restrict__ dbh, int ac, int ra) {
  for (int j = 0; j < H; ++j) {
    const S r = g[j], z = g[H + j], n = g[2 * H + j];
    const S dz = dh[j] * (hp[j] - n) * dact<RA>(z, ra);  // h = (1 - z) n + z h_prev
    const S dpn = dh[j] * (S(1) - z) * dact<A>(n, ac);  // n = act(x_n + r (R_n h + b_hn))
    const S dr = dpn * hn[j] * dact<RA>(r, ra);
    dg[j] = dr, dg[H + j] = dz, dg[2 * H + j] = dpn;
    dgh[j] = dr, dgh[H + j] = dz, dgh[2 * H + j] = dpn * r;
  }
  for (int k = 0; k < 3 * H; ++k) db[k] += dg[k];  // apart, as in lstm_bwd_row
  for (int k = 0; k < 3 * H; ++k) dbh[k] += dgh[k];
}

// GRU, reset before the matmul: r, z and r ⊙ h_in; then, after the matmul (r h_in) R_n^T, n and h.
template <typename S, int RA>
void gru_nra_fwd_rz(int H, S* __restrict__ g, const S* __restrict__ bias, const S* __restrict__ hin,
                    S* __restrict__ rh, int ra) {
  for (int j = 0; j < 2 * H; ++j) g[j] = act<RA>(g[j] + bias[j], ra);
  for (int j = 0; j < H; ++j) rh[j] = g[j] * hin[j];
}

template <typename S, int A>
void gru_nra_fwd_n(int H, S* __restrict__ g, const S* __restrict__ bias, S* __restrict__ h, int ac) {
  for (int j = 0; j < H; ++j) {
    const S z = g[H + j];
    const S n = act<A>(g[2 * H + j] + bias[2 * H + j], ac);
    g[2 * H + j] = n;
    h[j] = (S(1) - z) * n + z * h[j];
  }
}

template <typename S, int A, int RA>
void gru_nra_bwd_zn(int H, const S* __restrict__ g, const S* __restrict__ hp, const S* __restrict__ dh,
                    S* __restrict__ dg, int ac, int ra) {
  for (int j = 0; j < H; ++j) {
    const S z = g[H + j], n = g[2 * H + j];
    dg[H + j] = dh[j] * (hp[j] - n) * dact<RA>(z, ra);
    dg[2 * H + j] = dh[j] * (S(1) - z) * dact<A>(n, ac);
  }
}

// drh holds d(r ⊙ h_in) on entry, d(r ⊙ h_in) ⊙ r (its part of dh_in) on return.
template <typename S, int RA>
void gru_nra_bwd_r(int H, const S* __restrict__ g, const S* __restrict__ hin, S* __restrict__ drh,
                   S* __restrict__ dg, S* __restrict__ db, int ra) {
  for (int j = 0; j < H; ++j) {
    dg[j] = drh[j] * hin[j] * dact<RA>(g[j], ra);
    drh[j] *= g[j];
  }
  for (int k = 0; k < 3 * H; ++k) db[k] += dg[k];
}

// ================================================================= forward
// Per step: build xh, one matmul (GRU: two or three), the pointwise pass of each real row; at a
// masked step the state is carried and the output is the carried state (or zero with zero_output).
template <typename S, int A, int RA>
void forward_rows(const LkArgs& a, int64_t b0, int64_t b1) {
  const int64_t T = a.T, I = a.I, H = a.H, K = I + H, n = b1 - b0;
  const int ac = a.act, ra = a.rec_act;
  const int64_t GH = (a.kind == 0 ? 4 : (a.kind == 1 ? 3 : 1)) * H;
  const Rows<S> rw{a, b0, n};
  const S* W = static_cast<const S*>(a.W);
  const S* bias = static_cast<const S*>(a.bias);
  const S* b_hn = static_cast<const S*>(a.b_hn);
  const S* x = static_cast<const S*>(a.x);
  std::vector<S> h(rw.row(a.h0, 0, H), rw.row(a.h0, 0, H) + int64_t(n) * H), c;
  if (a.kind == 0) c.assign(rw.row(a.c0, 0, H), rw.row(a.c0, 0, H) + int64_t(n) * H);
  std::vector<S> xh_s(a.training ? 0 : n * K), g_s(a.training ? 0 : n * GH), hh_s(a.kind == 1 ? n * GH : 0);
  std::vector<S> aux_s(a.training ? 0 : n * H);
  std::vector<S> xs(BLOCK * n * I), ys(BLOCK * n * H);  // time-major blocks of x and Y
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    if (s % BLOCK == 0) {
      const Block blk(a, s, std::min<int64_t>(BLOCK, T - s));
      gather(xs.data(), x, a.sx_b, a.sx_t, a.sx_i, blk, b0, n, I, static_cast<const S*>(a.in_mask));
    }
    const Block blk(a, s - s % BLOCK, std::min<int64_t>(BLOCK, T - (s - s % BLOCK)));
    S* xh = a.training ? rw.at(a.XH, t, K) : xh_s.data();  // (n, K)
    S* g = a.training ? rw.at(a.G, t, GH) : g_s.data();  // (n, GH)
    const S* xt = xs.data() + int64_t(t - blk.p0) * n * I;
    for (int64_t r = 0; r < n; ++r) {  // xh = [x_t ⊙ in_mask | h ⊙ rec_mask]
      const S* rm = rw.row(a.rec_mask, r, H);
      S* o = xh + r * K;
      std::memcpy(o, xt + r * I, sizeof(S) * I);
      for (int j = 0; j < H; ++j) o[I + j] = rm ? h[r * H + j] * rm[j] : h[r * H + j];
    }
    if (a.training && a.Hprev) std::memcpy(rw.at(a.Hprev, t, H), h.data(), sizeof(S) * n * H);
    // LSTM: act(c_t); GRU: R_n h_in + b_hn, or r ⊙ h_in
    S* aux = !a.training ? aux_s.data() : (a.kind == 0 ? rw.at(a.TC, t, H) : (a.kind == 1 ? rw.at(a.HN, t, H) : nullptr));
    if (a.kind == 0) {  // ------------------------------------------------ LSTM
      gemm<S>(false, true, n, GH, K, S(1), xh, K, W, K, S(0), g, GH);  // [x | h] [W_ih | W_hh]^T  (n, 4H)
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r))
          lstm_fwd_row<S, A, RA>(H, g + r * GH, bias, c.data() + r * H, h.data() + r * H, aux + r * H, ac, ra);
        else  // defined contents at masked steps: the saved buffers are outputs of a torch op
          std::memset(aux + r * H, 0, sizeof(S) * H);
      if (a.training) std::memcpy(rw.at(a.C, t, H), c.data(), sizeof(S) * n * H);
    } else if (a.kind == 2) {  // ----------------------------------------- SimpleRNN
      gemm<S>(false, true, n, GH, K, S(1), xh, K, W, K, S(0), g, GH);  // [x | h] [W_ih | W_hh]^T  (n, H)
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r)) rnn_fwd_row<S, A>(H, g + r * GH, bias, h.data() + r * H, ac);
    } else if (a.reset_after) {  // ----------------------------------- GRU, reset after the matmul
      S* hh = hh_s.data();
      gemm<S>(false, true, n, GH, I, S(1), xh, K, W, K, S(0), g, GH);  // x W_ih^T  (n, 3H)
      gemm<S>(false, true, n, GH, H, S(1), xh + I, K, W + I, K, S(0), hh, GH);  // h_in W_hh^T  (n, 3H)
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r))
          gru_fwd_row<S, A, RA>(H, g + r * GH, hh + r * GH, bias, b_hn, aux + r * H, h.data() + r * H, ac, ra);
        else  // as for the LSTM
          std::memset(aux + r * H, 0, sizeof(S) * H);
    } else {  // ----------------------------------------------------------- GRU, reset before the matmul
      gemm<S>(false, true, n, 2 * H, K, S(1), xh, K, W, K, S(0), g, GH);  // [x | h] W_rz^T  (n, 2H)
      gemm<S>(false, true, n, H, I, S(1), xh, K, W + 2 * H * K, K, S(0), g + 2 * H, GH);  // x W_in^T  (n, H)
      for (int64_t r = 0; r < n; ++r)  // every row, masked ones too: harmless, their gates are never used
        gru_nra_fwd_rz<S, RA>(H, g + r * GH, bias, xh + r * K + I, aux + r * H, ra);
      gemm<S>(false, true, n, H, H, S(1), aux, H, W + 2 * H * K + I, K, S(1), g + 2 * H, GH);  // += (r h_in) R_n^T
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r)) gru_nra_fwd_n<S, A>(H, g + r * GH, bias, h.data() + r * H, ac);
    }
    S* yt = ys.data() + int64_t(t - blk.p0) * n * H;
    for (int64_t r = 0; r < n; ++r) {  // the output: the state, carried at masked steps
      if (a.zero_output && !rw.real(t, r))
        std::memset(yt + r * H, 0, sizeof(S) * H);
      else
        std::memcpy(yt + r * H, h.data() + r * H, sizeof(S) * H);
    }
    if ((s + 1) % BLOCK == 0 || s + 1 == T) scatter(static_cast<S*>(a.Y), ys.data(), a, blk, b0, n, H, static_cast<const S*>(nullptr));
  }
  std::memcpy(static_cast<S*>(a.hN) + int64_t(b0) * H, h.data(), sizeof(S) * n * H);
  if (a.kind == 0) std::memcpy(static_cast<S*>(a.cN) + int64_t(b0) * H, c.data(), sizeof(S) * n * H);
}

// ================================================================= backward
// Walks the steps in the reverse of the forward's order. dh, dc: gradient w.r.t. the state after
// the step. dxh = dG W gives at once the input's gradient (first I columns) and h_in's (last H).
template <typename S, int A, int RA>
void backward_rows(const LkArgs& a, int64_t b0, int64_t b1, int thread) {
  const int64_t T = a.T, I = a.I, H = a.H, K = I + H, n = b1 - b0;
  const int ac = a.act, ra = a.rec_act;
  const int64_t GH = (a.kind == 0 ? 4 : (a.kind == 1 ? 3 : 1)) * H;
  const Rows<S> rw{a, b0, n};
  const S* W = static_cast<const S*>(a.W);
  const S* dY = static_cast<const S*>(a.dY);
  S* db = static_cast<S*>(a.db) + int64_t(thread) * GH;
  S* dbh = a.dbh ? static_cast<S*>(a.dbh) + int64_t(thread) * GH : nullptr;
  std::vector<S> dh(n * H, S(0)), dc(a.kind == 0 ? n * H : 0, S(0)), dxh(n * K), drh(n * H);
  if (a.dhN) std::memcpy(dh.data(), rw.row(a.dhN, 0, H), sizeof(S) * n * H);
  if (a.kind == 0 && a.dcN) std::memcpy(dc.data(), rw.row(a.dcN, 0, H), sizeof(S) * n * H);
  std::vector<S> dys(dY ? BLOCK * n * H : 0), dxs(a.dX ? BLOCK * n * I : 0);  // time-major blocks of dY, dX
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    const int64_t tp = a.reverse ? t + 1 : t - 1;  // the step the forward ran just before t (if s > 0)
    const Block blk(a, s - s % BLOCK, std::min<int64_t>(BLOCK, T - (s - s % BLOCK)));  // the forward's block of s
    if ((s + 1) % BLOCK == 0 || s + 1 == T) {
      if (dY) gather(dys.data(), dY, a.sdy_b, a.sdy_t, a.sdy_h, blk, b0, n, H, static_cast<const S*>(nullptr));
    }
    const S* g = rw.at(a.G, t, GH);
    const S* xh = rw.at(a.XH, t, K);
    S* dg = rw.at(a.dG, t, GH);
    if (dY) {
      const S* dyt = dys.data() + int64_t(t - blk.p0) * n * H;
      for (int64_t r = 0; r < n; ++r) {
        if (!rw.real(t, r) && a.zero_output) continue;
        for (int j = 0; j < H; ++j) dh[r * H + j] += dyt[r * H + j];
      }
    }
    for (int64_t r = 0; r < n; ++r)  // masked steps: no gradient to the gates
      if (!rw.real(t, r)) std::memset(dg + r * GH, 0, sizeof(S) * GH);
    // h_prev for the GRU: saved apart with a recurrent dropout mask, else the h part of xh
    const S* hp = a.Hprev ? rw.at(a.Hprev, t, H) : xh + I;
    const int64_t hp_ld = a.Hprev ? H : K;
    if (a.kind == 0) {  // ------------------------------------------------ LSTM
      const S* TC = rw.at(a.TC, t, H);
      const S* cprev = s > 0 ? rw.at(a.C, tp, H) : rw.row(a.c0, 0, H);
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r))
          lstm_bwd_row<S, A, RA>(H, g + r * GH, TC + r * H, cprev + r * H, dh.data() + r * H, dc.data() + r * H,
                                 dg + r * GH, db, ac, ra);
      gemm<S>(false, false, n, K, GH, S(1), dg, GH, W, K, S(0), dxh.data(), K);  // dG [W_ih | W_hh]  (n, K)
    } else if (a.kind == 2) {  // ----------------------------------------- SimpleRNN
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r)) rnn_bwd_row<S, A>(H, g + r * GH, dh.data() + r * H, dg + r * GH, db, ac);
      gemm<S>(false, false, n, K, GH, S(1), dg, GH, W, K, S(0), dxh.data(), K);
    } else if (a.reset_after) {  // ----------------------------------- GRU, reset after the matmul
      S* dgh = rw.at(a.dGh, t, GH);
      const S* HN = rw.at(a.HN, t, H);
      for (int64_t r = 0; r < n; ++r) {
        if (rw.real(t, r))
          gru_bwd_row<S, A, RA>(H, g + r * GH, HN + r * H, hp + r * hp_ld, dh.data() + r * H, dg + r * GH,
                                dgh + r * GH, db, dbh, ac, ra);
        else
          std::memset(dgh + r * GH, 0, sizeof(S) * GH);
      }
      gemm<S>(false, false, n, I, GH, S(1), dg, GH, W, K, S(0), dxh.data(), K);  // dx = dG W_ih
      gemm<S>(false, false, n, H, GH, S(1), dgh, GH, W + I, K, S(0), dxh.data() + I, K);  // dh_in = dGh W_hh
    } else {  // ----------------------------------------------------------- GRU, reset before the matmul
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r))
          gru_nra_bwd_zn<S, A, RA>(H, g + r * GH, hp + r * hp_ld, dh.data() + r * H, dg + r * GH, ac, ra);
      // d(r h_in) = dG_n R_n; dr = d(r h_in) h_in; dh_in = d(r h_in) r + dG_rz R_rz
      gemm<S>(false, false, n, H, H, S(1), dg + 2 * H, GH, W + 2 * H * K + I, K, S(0), drh.data(), H);
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r))
          gru_nra_bwd_r<S, RA>(H, g + r * GH, xh + r * K + I, drh.data() + r * H, dg + r * GH, db, ra);
      gemm<S>(false, false, n, K, 2 * H, S(1), dg, GH, W, K, S(0), dxh.data(), K);  // dG_rz [W_ih | W_hh]_rz
      gemm<S>(false, false, n, I, H, S(1), dg + 2 * H, GH, W + 2 * H * K, K, S(1), dxh.data(), K);  // += dG_n W_in
      for (int64_t r = 0; r < n; ++r)
        if (rw.real(t, r))
          for (int j = 0; j < H; ++j) dxh[r * K + I + j] += drh[r * H + j];
    }
    // Scatter dxh: the input's gradient (masked steps give 0), and the state's for the next step.
    for (int64_t r = 0; r < n; ++r) {
      const S* d = dxh.data() + r * K;
      if (a.dX) std::memcpy(dxs.data() + (int64_t(t - blk.p0) * n + r) * I, d, sizeof(S) * I);
      if (!rw.real(t, r)) continue;  // the state was carried: dh and dc pass through unchanged
      const S* rm = rw.row(a.rec_mask, r, H);
      S* dhr = dh.data() + r * H;
      if (a.kind == 1) {  // GRU: h = ... + z h_prev
        const S* z = g + r * GH + H;
        for (int j = 0; j < H; ++j) dhr[j] = dhr[j] * z[j] + (rm ? d[I + j] * rm[j] : d[I + j]);
      } else {
        for (int j = 0; j < H; ++j) dhr[j] = rm ? d[I + j] * rm[j] : d[I + j];
      }
    }
    if (a.dX && s % BLOCK == 0)
      scatter(static_cast<S*>(a.dX), dxs.data(), a, blk, b0, n, I, static_cast<const S*>(a.in_mask));
  }
  std::memcpy(static_cast<S*>(a.dh0) + int64_t(b0) * H, dh.data(), sizeof(S) * n * H);
  if (a.kind == 0) std::memcpy(static_cast<S*>(a.dc0) + int64_t(b0) * H, dc.data(), sizeof(S) * n * H);
}

// ================================================================= the variants (issue 19)
// Peephole, layer norm and zoneout, for the LSTM and the GRU with reset_after, on the equations of
// lstmkit/ops/reference.py. The input projection XW = LN_ih(W x) + b_ih is one torch matmul before
// the loop (autograd differentiates it), so per step the matmul is h_in W_hh^T alone; LN of it, LN
// of c~ and zoneout run inside the row functions. Per-thread sums give the gains', biases' and
// peepholes' gradients, reduced once by the caller.
constexpr double LN_EPS = 1e-5;  // lstmkit.ops.variants.LN_EPS, as torch.nn.LayerNorm

// y = gain (u - mean) / sqrt(var + eps) + bias over N values (biased variance); xhat and 1/sigma kept.
// y may be u itself.
template <typename S>
void ln_fwd(int64_t N, const S* u, const S* __restrict__ gain, const S* __restrict__ bias, S* __restrict__ xhat,
            S* y, S* rstd) {
  S mean = 0;
  for (int64_t k = 0; k < N; ++k) mean += u[k];
  mean /= S(N);
  S var = 0;
  for (int64_t k = 0; k < N; ++k) var += (u[k] - mean) * (u[k] - mean);
  var /= S(N);
  const S rs = S(1) / std::sqrt(var + S(LN_EPS));
  for (int64_t k = 0; k < N; ++k) {
    const S xh = (u[k] - mean) * rs;
    xhat[k] = xh;
    y[k] = gain[k] * xh + (bias ? bias[k] : S(0));
  }
  *rstd = rs;
}

// dx = (1/sigma) (dy gain - mean(dy gain) - xhat mean(dy gain xhat)); dgain += dy xhat, dbias += dy.
// dx may be dy itself.
template <typename S>
void ln_bwd(int64_t N, const S* dy, const S* __restrict__ xhat, S rstd, const S* __restrict__ gain,
            S* __restrict__ dgain, S* __restrict__ dbias, S* dx) {
  S m1 = 0, m2 = 0;
  for (int64_t k = 0; k < N; ++k) {
    const S dyg = dy[k] * gain[k];
    m1 += dyg;
    m2 += dyg * xhat[k];
    dgain[k] += dy[k] * xhat[k];
    dbias[k] += dy[k];
  }
  m1 /= S(N);
  m2 /= S(N);
  for (int64_t k = 0; k < N; ++k) dx[k] = rstd * (dy[k] * gain[k] - m1 - xhat[k] * m2);
}

// The row functions take every pointer non-null (the callers hand in zeros for an absent peephole or
// zoneout, and a sink for its gradient) and restrict-qualified: with `p ? p[j] : 0` in the loop body
// gcc left the loops scalar, and the peephole LSTM's forward took 3.5x the plain one (B=128, T=100, H=32).

// LSTM variant, one row: g holds v = LN_hh(R h_in) (or R h_in) on entry, the activated i, f, g, o on
// return; c, h are the state (updated); ct = c~, tc = act(LN_c(c~)); lc, cs the LN_c statistics.
template <typename S, int A, int RA>
void lstm_var_fwd_row(int H, S* __restrict__ g, const S* __restrict__ xw, const S* __restrict__ peep,
                      const S* __restrict__ ln_w, const S* __restrict__ ln_b, const S* __restrict__ zh,
                      const S* __restrict__ zc, S* __restrict__ c, S* __restrict__ h, S* __restrict__ ct,
                      S* __restrict__ tc, S* __restrict__ lc, S* __restrict__ cs, int ac, int ra) {
  for (int j = 0; j < H; ++j) {
    const S cp = c[j];
    const S i = act<RA>(g[j] + xw[j] + peep[j] * cp, ra);
    const S f = act<RA>(g[H + j] + xw[H + j] + peep[H + j] * cp, ra);
    const S gg = act<A>(g[2 * H + j] + xw[2 * H + j], ac);
    const S cn = f * cp + i * gg;  // c~ = f c_prev + i g
    const S o = act<RA>(g[3 * H + j] + xw[3 * H + j] + peep[2 * H + j] * cn, ra);  // o sees c~ through p_o
    g[j] = i, g[H + j] = f, g[2 * H + j] = gg, g[3 * H + j] = o;
    ct[j] = cn;
  }
  if (ln_w) {
    ln_fwd<S>(H, ct, ln_w, ln_b, lc, tc, cs);  // tc <- LN_c(c~)
  } else {
    std::memcpy(tc, ct, sizeof(S) * H);
  }
  for (int j = 0; j < H; ++j) {
    const S t = act<A>(tc[j], ac);
    tc[j] = t;
    const S hn = g[3 * H + j] * t;  // h~ = o act(LN_c(c~))
    h[j] = zh[j] * h[j] + (S(1) - zh[j]) * hn;  // zoneout: d h_prev + (1 - d) h~
    c[j] = zc[j] * c[j] + (S(1) - zc[j]) * ct[j];
  }
}

// Backward of one row: dh, dc hold dL/dh_t, dL/dc_t on entry and, on return, dc = dL/dc_{t-1} and dh
// the part of dL/dh_{t-1} that zoneout passes (the matmul's part is added by the caller); dg = dL/da.
template <typename S, int A, int RA>
void lstm_var_bwd_row(int H, const S* __restrict__ g, const S* __restrict__ cp, const S* __restrict__ ct,
                      const S* __restrict__ tc, const S* __restrict__ lc, S cs, const S* __restrict__ peep,
                      const S* __restrict__ ln_w, const S* __restrict__ zh, const S* __restrict__ zc,
                      S* __restrict__ dh, S* __restrict__ dc, S* __restrict__ dg, S* __restrict__ dl,
                      S* __restrict__ dpeep, S* __restrict__ dln_w, S* __restrict__ dln_b, int ac, int ra) {
  for (int j = 0; j < H; ++j) {
    const S dht = (S(1) - zh[j]) * dh[j];  // dL/dh~
    dh[j] = zh[j] * dh[j];
    const S o = g[3 * H + j];
    dl[j] = dht * o * dact<A>(tc[j], ac);  // dL/dLN_c(c~)
    dg[3 * H + j] = dht * tc[j] * dact<RA>(o, ra);
  }
  if (ln_w) ln_bwd<S>(H, dl, lc, cs, ln_w, dln_w, dln_b, dl);  // dl <- dL/dc~ through LN_c
  for (int j = 0; j < H; ++j) {
    const S i = g[j], f = g[H + j], gg = g[2 * H + j];
    const S dao = dg[3 * H + j];
    const S dct = dl[j] + (S(1) - zc[j]) * dc[j] + dao * peep[2 * H + j];  // all of dL/dc~
    const S dai = dct * gg * dact<RA>(i, ra), daf = dct * cp[j] * dact<RA>(f, ra);
    dg[j] = dai, dg[H + j] = daf, dg[2 * H + j] = dct * i * dact<A>(gg, ac);
    dc[j] = zc[j] * dc[j] + dct * f + dai * peep[j] + daf * peep[H + j];
    dpeep[j] += dai * cp[j];
    dpeep[H + j] += daf * cp[j];
    dpeep[2 * H + j] += dao * ct[j];
  }
}

// GRU variant (reset_after), one row: hw holds v = LN_hh(R h_in) (or R h_in) on entry, v + b_hh on return.
template <typename S, int A, int RA>
void gru_var_fwd_row(int H, S* __restrict__ g, const S* __restrict__ xw, S* __restrict__ hw,
                     const S* __restrict__ bias, const S* __restrict__ zh, S* __restrict__ h, int ac, int ra) {
  for (int j = 0; j < 3 * H; ++j) hw[j] += bias[j];
  for (int j = 0; j < H; ++j) {
    const S r = act<RA>(xw[j] + hw[j], ra);
    const S z = act<RA>(xw[H + j] + hw[H + j], ra);
    const S n = act<A>(xw[2 * H + j] + r * hw[2 * H + j], ac);
    g[j] = r, g[H + j] = z, g[2 * H + j] = n;
    const S ht = (S(1) - z) * n + z * h[j];
    h[j] = zh[j] * h[j] + (S(1) - zh[j]) * ht;
  }
}

// dg = dL/dXW, dgh = dL/d(v + b_hh); dh <- the part of dL/dh_{t-1} not through the matmul.
template <typename S, int A, int RA>
void gru_var_bwd_row(int H, const S* __restrict__ g, const S* __restrict__ hn, const S* __restrict__ hp,
                     const S* __restrict__ zh, S* __restrict__ dh, S* __restrict__ dg, S* __restrict__ dgh,
                     S* __restrict__ dbh, int ac, int ra) {
  for (int j = 0; j < H; ++j) {
    const S r = g[j], z = g[H + j], n = g[2 * H + j];
    const S dht = (S(1) - zh[j]) * dh[j];
    const S dz = dht * (hp[j] - n) * dact<RA>(z, ra);
    const S dpn = dht * (S(1) - z) * dact<A>(n, ac);
    const S dr = dpn * hn[j] * dact<RA>(r, ra);
    dg[j] = dr, dg[H + j] = dz, dg[2 * H + j] = dpn;
    dgh[j] = dr, dgh[H + j] = dz, dgh[2 * H + j] = dpn * r;
    dh[j] = zh[j] * dh[j] + dht * z;
  }
  for (int k = 0; k < 3 * H; ++k) dbh[k] += dgh[k];
}

// A zoneout row (b, t), or `zeros` without zoneout.
template <typename S>
const S* zrow(const void* base, int64_t sb, int64_t st, int64_t b, int64_t t, const S* zeros) {
  return base == nullptr ? zeros : static_cast<const S*>(base) + b * sb + t * st;
}

template <typename S, int A, int RA>
void var_forward_rows(const LkArgs& a, int64_t b0, int64_t b1) {
  const int64_t T = a.T, H = a.H, n = b1 - b0;
  const int ac = a.act, ra = a.rec_act;
  const bool is_lstm = a.kind == 0;
  const int64_t GH = (is_lstm ? 4 : 3) * H;
  const Rows<S> rw{a, b0, n};
  const S* W = static_cast<const S*>(a.W);
  const S* bias = static_cast<const S*>(a.bias);
  const S* peep = static_cast<const S*>(a.peep);
  const S *lnh_w = static_cast<const S*>(a.ln_hh_w), *lnh_b = static_cast<const S*>(a.ln_hh_b);
  const S *lnc_w = static_cast<const S*>(a.ln_c_w), *lnc_b = static_cast<const S*>(a.ln_c_b);
  const S* xw = static_cast<const S*>(a.x);
  const bool tr = a.training != 0;
  std::vector<S> h(rw.row(a.h0, 0, H), rw.row(a.h0, 0, H) + n * H), c;
  if (is_lstm) c.assign(rw.row(a.c0, 0, H), rw.row(a.c0, 0, H) + n * H);
  std::vector<S> xh_s(tr ? 0 : n * H), g_s(tr ? 0 : n * GH), hh_s(is_lstm ? 0 : n * GH);
  std::vector<S> un_s(tr ? 0 : GH), ct_s(tr ? 0 : H), tc_s(tr ? 0 : H), lc_s(tr ? 0 : H), hn_s(tr ? 0 : H);
  std::vector<S> xs(BLOCK * n * GH), ys(BLOCK * n * H);
  const std::vector<S> zeros(GH, S(0));  // for an absent peephole, zoneout or bias
  if (!peep) peep = zeros.data();
  if (!bias) bias = zeros.data();
  S stat = 0;
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    if (s % BLOCK == 0) {
      const Block blk(a, s, std::min<int64_t>(BLOCK, T - s));
      gather(xs.data(), xw, a.sx_b, a.sx_t, a.sx_i, blk, b0, n, GH, static_cast<const S*>(nullptr));
    }
    const Block blk(a, s - s % BLOCK, std::min<int64_t>(BLOCK, T - (s - s % BLOCK)));
    const S* xt = xs.data() + (t - blk.p0) * n * GH;
    S* xh = tr ? rw.at(a.XH, t, H) : xh_s.data();  // (n, H) h_in
    S* g = tr ? rw.at(a.G, t, GH) : g_s.data();
    for (int64_t r = 0; r < n; ++r) {
      const S* rm = rw.row(a.rec_mask, r, H);
      for (int64_t j = 0; j < H; ++j) xh[r * H + j] = rm ? h[r * H + j] * rm[j] : h[r * H + j];
    }
    if (tr && a.Hprev) std::memcpy(rw.at(a.Hprev, t, H), h.data(), sizeof(S) * n * H);
    S* u = is_lstm ? g : hh_s.data();
    gemm<S>(false, true, n, GH, H, S(1), xh, H, W, H, S(0), u, GH);  // h_in W_hh^T  (n, GH)
    for (int64_t r = 0; r < n; ++r) {
      S* ur = u + r * GH;
      const bool real = rw.real(t, r);
      if (lnh_w) {
        S* un = tr ? rw.at(a.UN, t, GH) + r * GH : un_s.data();
        S* us = tr ? static_cast<S*>(a.US) + t * a.B + b0 + r : &stat;
        if (real) ln_fwd<S>(GH, ur, lnh_w, lnh_b, un, ur, us);
        else std::memset(un, 0, sizeof(S) * GH), *us = S(0);
      }
      const S* zhr = zrow<S>(a.zh, a.szh_b, a.szh_t, b0 + r, t, zeros.data());
      if (is_lstm) {
        S* ct = tr ? rw.at(a.CT, t, H) + r * H : ct_s.data();
        S* tc = tr ? rw.at(a.TC, t, H) + r * H : tc_s.data();
        S* lc = tr && lnc_w ? rw.at(a.LC, t, H) + r * H : lc_s.data();
        S* cs = tr && lnc_w ? static_cast<S*>(a.CS) + t * a.B + b0 + r : &stat;
        if (real) {
          lstm_var_fwd_row<S, A, RA>(H, ur, xt + r * GH, peep, lnc_w, lnc_b, zhr,
                                     zrow<S>(a.zc, a.szc_b, a.szc_t, b0 + r, t, zeros.data()), c.data() + r * H,
                                     h.data() + r * H,
                                     ct, tc, lc, cs, ac, ra);
        } else if (tr) {  // defined contents at masked steps; the backward reads none of them
          std::memset(ct, 0, sizeof(S) * H), std::memset(tc, 0, sizeof(S) * H);
          if (lnc_w) std::memset(lc, 0, sizeof(S) * H), *cs = S(0);
        }
      } else {
        S* hn = tr ? rw.at(a.HN, t, H) + r * H : hn_s.data();
        if (real) {
          gru_var_fwd_row<S, A, RA>(H, g + r * GH, xt + r * GH, ur, bias, zhr, h.data() + r * H, ac, ra);
          std::memcpy(hn, ur + 2 * H, sizeof(S) * H);  // v_n + b_hn, the term r multiplies
        } else if (tr) {
          std::memset(hn, 0, sizeof(S) * H);
        }
      }
    }
    if (tr && is_lstm) std::memcpy(rw.at(a.C, t, H), c.data(), sizeof(S) * n * H);
    S* yt = ys.data() + (t - blk.p0) * n * H;
    for (int64_t r = 0; r < n; ++r) {
      if (a.zero_output && !rw.real(t, r))
        std::memset(yt + r * H, 0, sizeof(S) * H);
      else
        std::memcpy(yt + r * H, h.data() + r * H, sizeof(S) * H);
    }
    if ((s + 1) % BLOCK == 0 || s + 1 == T)
      scatter(static_cast<S*>(a.Y), ys.data(), a, blk, b0, n, H, static_cast<const S*>(nullptr));
  }
  std::memcpy(static_cast<S*>(a.hN) + b0 * H, h.data(), sizeof(S) * n * H);
  if (is_lstm) std::memcpy(static_cast<S*>(a.cN) + b0 * H, c.data(), sizeof(S) * n * H);
}

// dG = dL/dXW (the caller's dX: XW's gradient, time-major); dGh = dL/d(h_in W_hh^T) where it differs
// from dG (with LN_hh, and for the GRU), for dW_hh = dGh^T XH.
template <typename S, int A, int RA>
void var_backward_rows(const LkArgs& a, int64_t b0, int64_t b1, int thread) {
  const int64_t T = a.T, H = a.H, n = b1 - b0;
  const int ac = a.act, ra = a.rec_act;
  const bool is_lstm = a.kind == 0;
  const int64_t GH = (is_lstm ? 4 : 3) * H;
  const Rows<S> rw{a, b0, n};
  const S* W = static_cast<const S*>(a.W);
  const S* dY = static_cast<const S*>(a.dY);
  const S* peep = static_cast<const S*>(a.peep);
  const S* lnh_w = static_cast<const S*>(a.ln_hh_w);
  const S* lnc_w = static_cast<const S*>(a.ln_c_w);
  S* dpeep = a.dpeep ? static_cast<S*>(a.dpeep) + thread * 3 * H : nullptr;
  S* dlnh = a.dln_hh ? static_cast<S*>(a.dln_hh) + thread * 2 * GH : nullptr;
  S* dlnc = a.dln_c ? static_cast<S*>(a.dln_c) + thread * 2 * H : nullptr;
  S* dbh = a.dbh ? static_cast<S*>(a.dbh) + thread * GH : nullptr;
  std::vector<S> dh(n * H, S(0)), dc(is_lstm ? n * H : 0, S(0)), dxh(n * H), dl(H), dgh_s(n * GH);
  if (a.dhN) std::memcpy(dh.data(), rw.row(a.dhN, 0, H), sizeof(S) * n * H);
  if (is_lstm && a.dcN) std::memcpy(dc.data(), rw.row(a.dcN, 0, H), sizeof(S) * n * H);
  std::vector<S> dys(dY ? BLOCK * n * H : 0);
  const std::vector<S> zeros(3 * H, S(0));  // for an absent peephole or zoneout
  std::vector<S> sink(dpeep ? 0 : 3 * H);  // the gradient of an absent peephole
  if (!peep) peep = zeros.data();
  if (!dpeep) dpeep = sink.data();
  for (int64_t s = T - 1; s >= 0; --s) {
    const int64_t t = a.reverse ? T - 1 - s : s;
    const int64_t tp = a.reverse ? t + 1 : t - 1;
    const Block blk(a, s - s % BLOCK, std::min<int64_t>(BLOCK, T - (s - s % BLOCK)));
    if (dY && ((s + 1) % BLOCK == 0 || s + 1 == T))
      gather(dys.data(), dY, a.sdy_b, a.sdy_t, a.sdy_h, blk, b0, n, H, static_cast<const S*>(nullptr));
    const S* g = rw.at(a.G, t, GH);
    const S* xh = rw.at(a.XH, t, H);
    S* dg = rw.at(a.dG, t, GH);
    // the matmul's gradient: dGh where it is kept apart, else dG itself (LSTM without LN_hh)
    S* du = a.dGh ? rw.at(a.dGh, t, GH) : (is_lstm && !lnh_w ? dg : dgh_s.data());
    if (dY) {
      const S* dyt = dys.data() + (t - blk.p0) * n * H;
      for (int64_t r = 0; r < n; ++r) {
        if (!rw.real(t, r) && a.zero_output) continue;
        for (int64_t j = 0; j < H; ++j) dh[r * H + j] += dyt[r * H + j];
      }
    }
    const S* hp = a.Hprev ? rw.at(a.Hprev, t, H) : xh;
    for (int64_t r = 0; r < n; ++r) {
      S* dgr = dg + r * GH;
      S* dur = du + r * GH;
      if (!rw.real(t, r)) {  // masked: no gradient to the gates, the state's passes unchanged
        std::memset(dgr, 0, sizeof(S) * GH);
        if (dur != dgr) std::memset(dur, 0, sizeof(S) * GH);
        continue;
      }
      const S* zhr = zrow<S>(a.zh, a.szh_b, a.szh_t, b0 + r, t, zeros.data());
      if (is_lstm) {
        const S* cprev = s > 0 ? rw.at(a.C, tp, H) + r * H : rw.row(a.c0, r, H);
        const S* lc = lnc_w ? rw.at(a.LC, t, H) + r * H : nullptr;
        const S cs = lnc_w ? static_cast<const S*>(a.CS)[t * a.B + b0 + r] : S(0);
        lstm_var_bwd_row<S, A, RA>(H, g + r * GH, cprev, rw.at(a.CT, t, H) + r * H, rw.at(a.TC, t, H) + r * H, lc,
                                   cs, peep, lnc_w, zhr, zrow<S>(a.zc, a.szc_b, a.szc_t, b0 + r, t, zeros.data()),
                                   dh.data() + r * H, dc.data() + r * H, dgr, dl.data(), dpeep, dlnc,
                                   dlnc ? dlnc + H : nullptr, ac, ra);
        if (lnh_w) std::memcpy(dur, dgr, sizeof(S) * GH);
      } else {
        gru_var_bwd_row<S, A, RA>(H, g + r * GH, rw.at(a.HN, t, H) + r * H, hp + r * H, zhr, dh.data() + r * H, dgr,
                                  dur, dbh, ac, ra);
      }
      if (lnh_w) {
        const S us = static_cast<const S*>(a.US)[t * a.B + b0 + r];
        ln_bwd<S>(GH, dur, rw.at(a.UN, t, GH) + r * GH, us, lnh_w, dlnh, dlnh + GH, dur);
      }
    }
    gemm<S>(false, false, n, H, GH, S(1), du, GH, W, H, S(0), dxh.data(), H);  // dh_in = dU W_hh  (n, H)
    for (int64_t r = 0; r < n; ++r) {
      if (!rw.real(t, r)) continue;
      const S* rm = rw.row(a.rec_mask, r, H);
      for (int64_t j = 0; j < H; ++j) dh[r * H + j] += rm ? dxh[r * H + j] * rm[j] : dxh[r * H + j];
    }
  }
  std::memcpy(static_cast<S*>(a.dh0) + b0 * H, dh.data(), sizeof(S) * n * H);
  if (is_lstm) std::memcpy(static_cast<S*>(a.dc0) + b0 * H, dc.data(), sizeof(S) * n * H);
}

// Threads split the batch; each runs the whole time loop on its rows.
// Subnormal numbers flushed to zero (FTZ) and read as zero (DAZ) while a thread runs the loops, as
// TensorFlow does on CPU. Why: gradients flowing back hundreds of steps through saturated gates decay
// into the subnormal range, where x86 arithmetic is about 100x slower; the whole IMDB model's
// backward took 0.8 s per batch instead of 0.03 s. Flushing changes results only below 1.2e-38
// (float32) / 2.2e-308 (float64). The previous mode is restored; MXCSR is per thread.
struct FlushDenormals {
#ifdef LK_HAVE_MXCSR
  unsigned int saved;
  FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved); }
#endif
};

// How a call ended: the extern "C" functions return it; build.py turns LK_NO_MEMORY into MemoryError.
enum Status { LK_OK = 0, LK_NO_MEMORY = 1, LK_FAILED = 2 };

// Runs f(), turning a C++ exception (std::bad_alloc from a scratch vector) into a status: an
// exception must not leave an OpenMP region or an extern "C" function, where it aborts the process.
template <typename F>
int guarded(F&& f) {
  try {
    f();
    return LK_OK;
  } catch (const std::bad_alloc&) {
    return LK_NO_MEMORY;
  } catch (...) {
    return LK_FAILED;
  }
}

// The rows one pass of forward_rows/backward_rows takes at most: their scratch (the time-major
// blocks of x, Y, dY, dX and the per-row buffers) stays near SCRATCH_ELEMENTS elements per thread
// whatever the batch. A thread's rows run as consecutive chunks of this many, each its own time loop:
// the rows of a batch are independent, and the bias gradient sums over them all.
constexpr int64_t SCRATCH_ELEMENTS = int64_t(1) << 23;

int64_t chunk_rows(const LkArgs& a) {
  const int64_t GH = (a.kind == 0 ? 4 : (a.kind == 1 ? 3 : 1)) * a.H;
  const int64_t per_row = BLOCK * (a.I + a.H) + 2 * (a.I + a.H) + 3 * GH + 4 * a.H;
  return std::max<int64_t>(1, SCRATCH_ELEMENTS / per_row);
}

template <typename S, int A, int RA>
int run(const LkArgs& a, bool backward) {
  const int nt = int(a.nthreads < 1 ? 1 : (a.nthreads > a.B ? a.B : a.nthreads));
  const int64_t rows = chunk_rows(a);
  const int GH = int((a.kind == 0 ? 4 : (a.kind == 1 ? 3 : 1)) * a.H);
  std::vector<int> status(nt, LK_OK);
  auto body = [&](int k) {
    status[k] = guarded([&] {
      FlushDenormals ftz;
      const int64_t b0 = a.B * k / nt, b1 = a.B * (k + 1) / nt;
      if (backward) {
        const auto zero = [&](void* p, int64_t width) {
          if (p) std::fill(static_cast<S*>(p) + k * width, static_cast<S*>(p) + (k + 1) * width, S(0));
        };
        zero(a.db, GH), zero(a.dbh, GH), zero(a.dpeep, 3 * a.H), zero(a.dln_hh, 2 * GH), zero(a.dln_c, 2 * a.H);
      }
      for (int64_t c0 = b0; c0 < b1; c0 += rows) {
        const int64_t c1 = std::min(b1, c0 + rows);
        if (a.variant && backward)
          var_backward_rows<S, A, RA>(a, c0, c1, k);
        else if (a.variant)
          var_forward_rows<S, A, RA>(a, c0, c1);
        else if (backward)
          backward_rows<S, A, RA>(a, c0, c1, k);
        else
          forward_rows<S, A, RA>(a, c0, c1);
      }
    });
  };
  if (nt == 1) {
    body(0);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int k = 0; k < nt; ++k) body(k);
  }
  return *std::max_element(status.begin(), status.end());
}

// The activation pairs compiled as constants (the defaults of LSTM and GRU, SimpleRNN's tanh and
// relu) in float32; every other pair, and float64, through the DYN path. Instantiating all 25
// pairs made the file take 58 s to compile instead of a few.
template <typename S>
int dispatch(const LkArgs& a, bool backward) {
  if constexpr (std::is_same_v<S, float>) {
    if (a.kind != 2 && a.act == TANH && a.rec_act == SIGMOID) return run<S, TANH, SIGMOID>(a, backward);
    if (a.kind == 2 && a.act == TANH) return run<S, TANH, LINEAR>(a, backward);
    if (a.kind == 2 && a.act == RELU) return run<S, RELU, LINEAR>(a, backward);
  }
  return run<S, DYN, DYN>(a, backward);
}

// C (M, N) = A^T B over R rows: A is (R, M) with row stride lda, B is (R, N) with row stride ldb;
// the weight gradients dG^T XH over all T*B rows, which may pass 2^31: the BLAS takes them in
// pieces of at most GEMM_ROWS, accumulating. Threads split the M rows of C, each with
// subnormals flushed: the products of small gradients with small inputs underflow, and one such
// matmul took 110 ms instead of 17 ms in torch.mm, which cannot flush on its worker threads.
constexpr int64_t GEMM_ROWS = int64_t(1) << 30;

template <typename S>
int gemm_tn(int M, int N, int64_t R, const S* A, int lda, const S* B, int ldb, S* C, int ldc, int nthreads) {
  const int nt = nthreads < 1 ? 1 : (nthreads > M ? M : nthreads);
  std::vector<int> status(nt, LK_OK);
  auto body = [&](int k) { status[k] = guarded([&] {
    FlushDenormals ftz;
    const int m0 = int(int64_t(M) * k / nt), m1 = int(int64_t(M) * (k + 1) / nt), mk = m1 - m0;
    if (mk <= 0) return;
    if (mk < N) {  // few rows of C against many columns: the direct form is the faster one here
      for (int64_t r0 = 0; r0 < R; r0 += GEMM_ROWS)
        gemm<S>(true, false, mk, N, int(std::min(GEMM_ROWS, R - r0)), S(1), A + r0 * lda + m0, lda, B + r0 * ldb,
                ldb, r0 == 0 ? S(0) : S(1), C + int64_t(m0) * ldc, ldc);
      return;
    }
    // C[m0:m1]^T = B^T A[:, m0:m1], then transposed into place. Measured with MKL, one thread,
    // R = 64000 rows: (M, N) = (128, 64) 9.3 -> 6.8 ms, (256, 160) 46 -> 39 ms, (384, 256) 86 -> 81 ms;
    // but (128, 288) 31 -> 43 ms, hence the direct form above when M < N.
    std::vector<S> ct(int64_t(N) * mk);
    for (int64_t r0 = 0; r0 < R; r0 += GEMM_ROWS)
      gemm<S>(true, false, N, mk, int(std::min(GEMM_ROWS, R - r0)), S(1), B + r0 * ldb, ldb, A + r0 * lda + m0, lda,
              r0 == 0 ? S(0) : S(1), ct.data(), mk);
    for (int n = 0; n < N; ++n)
      for (int m = 0; m < mk; ++m) C[int64_t(m0 + m) * ldc + n] = ct[int64_t(n) * mk + m];
  }); };
  if (nt == 1) {
    body(0);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int k = 0; k < nt; ++k) body(k);
  }
  return *std::max_element(status.begin(), status.end());
}

}  // namespace

namespace {
template <typename F>
const char* field_kind() {
  static_assert(std::is_pointer<F>::value || std::is_same<F, int32_t>::value || std::is_same<F, int64_t>::value,
                "LkArgs fields are int32_t, int64_t or pointers");
  return std::is_pointer<F>::value ? "ptr" : (std::is_same<F, int64_t>::value ? "i64" : "i32");
}

int run_call(const LkArgs& a, bool backward) {
  int status = LK_OK;
  const int caught = guarded([&] { status = a.dtype == 0 ? dispatch<float>(a, backward) : dispatch<double>(a, backward); });
  return caught != LK_OK ? caught : status;
}
}  // namespace

extern "C" {

// Each returns a Status (0 done, 1 out of memory, 2 another failure), never throws.
int lk_gemm_tn(int dtype, int M, int N, int64_t R, const void* A, int lda, const void* B, int ldb, void* C, int ldc,
               int nthreads) {
  int status = LK_OK;
  const int caught = guarded([&] {
    if (dtype == 0)
      status = gemm_tn<float>(M, N, R, static_cast<const float*>(A), lda, static_cast<const float*>(B), ldb,
                              static_cast<float*>(C), ldc, nthreads);
    else
      status = gemm_tn<double>(M, N, R, static_cast<const double*>(A), lda, static_cast<const double*>(B), ldb,
                               static_cast<double*>(C), ldc, nthreads);
  });
  return caught != LK_OK ? caught : status;
}

int lk_abi_version() { return LK_ABI_VERSION; }

int64_t lk_args_size() { return int64_t(sizeof(LkArgs)); }

// "name kind offset;" for every field of LkArgs in order; kind is i32, i64 or ptr.
const char* lk_args_layout() {
  static const std::string layout = [] {
    std::string out;
#define LK_DESCRIBE(type, name)                                                                  \
  out += std::string(#name) + " " + field_kind<type>() + " " + std::to_string(offsetof(LkArgs, name)) + ";";
    LK_ARGS_FIELDS(LK_DESCRIBE)
#undef LK_DESCRIBE
    return out;
  }();
  return layout.c_str();
}

void lk_set_blas(void* sgemm, void* dgemm) {
  g_sgemm = reinterpret_cast<sgemm_t>(sgemm);
  g_dgemm = reinterpret_cast<dgemm_t>(dgemm);
}

int lk_forward(const LkArgs* a) { return run_call(*a, false); }

int lk_backward(const LkArgs* a) { return run_call(*a, true); }

}  // extern "C"
