// The one-pass scans of minGRU and minLSTM (lstmkit/ops/min_rnn.py has the equations): from the
// input projections' pre-activations K, forward h_t = a_t ⊙ h_{t-1} + b_t with the gates computed on
// the fly, and backward the reverse-time scan that gives dK and dh0. The projection itself (one big
// matmul over all steps) stays torch's.
//
// Built on first use by lstmkit/ops/_cpu/build.py (build_library/load_library) with the system C++
// compiler and called through ctypes: plain extern "C" functions taking pointers, no headers of
// Python or torch.
//
// Dimensions: B batch, T time, H hidden, G gates (minGRU 2: z, h̃; minLSTM 3: f, i, h̃), GH = G*H.
// Every buffer is batch-major and contiguous: K and dK (B, T, GH), Y and S (B, T, H), mask (B, T)
// (1 = a real step), h0, hN, dhN and dh0 (B, H). Each (row b, block of units) is independent through
// the whole time loop: threads take such tasks and run all T steps on them, with no barrier per step.
// Per element and step the forward does about 10 flops and 2 exps, and it reads 2-3 and writes 1-2
// numbers: memory-bound, so nothing but the state sequence is stored and the backward recomputes the
// gates from K.
//
// Masking as in lstmkit's other recurrences: at a masked step the state is carried (a = 1, b = 0), the
// output Y is 0 and S (the carried state, what the backward reads as h_{t-1}) keeps the state. Without
// a mask S is Y (the caller passes the same buffer). `reverse` runs from t = T-1 to 0, and outputs stay
// at their time index.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#ifdef _OPENMP
#include <omp.h>
#endif

#define LK_ABI_VERSION 1

namespace {

enum Status { LK_OK = 0, LK_FAILED = 2 };
enum Kind { MIN_GRU = 0, MIN_LSTM = 1 };
enum Dtype { F32 = 0, F64 = 1 };

// exp(x) in float for the gates: 1-2 ulp on [-87, 88] (clamped outside, NaN kept), branch-free so that
// the loops over units vectorise (glibc's expf only does with -ffast-math, which the build does not use).
// Round-to-nearest by the 1.5*2^23 trick, Cody-Waite reduction by ln 2, Taylor series to degree 7
// (|r| <= ln2/2: truncation 5e-9 relative).
inline float exp_s(float x) {
  const float c = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  const float shifter = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer in the low mantissa bits
  const float t = c * 1.44269504088896341f + shifter;
  const float n = t - shifter;
  const float r = (c - n * 0.693145751953125f) - n * 1.428606765330187e-06f;  // ln 2 = hi + lo
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t tb;
  std::memcpy(&tb, &t, sizeof tb);
  const int32_t bits = (tb - 0x4B400000 + 127) << 23;  // 0x4B400000: the bits of the shifter; n + 127 = exponent
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x == x ? p * scale : x;
}

inline double exp_s(double x) { return std::exp(x); }  // float64 is the checking dtype: libm's exp

template <typename S>
inline S sigmoid(S v) {
  return S(1) / (S(1) + exp_s(-v));
}

// The paper's positive activation g(v) = v + 0.5 for v >= 0, σ(v) below, and its derivative.
template <typename S>
inline S g_act(S v, S sig) {
  return v >= S(0) ? v + S(0.5) : sig;
}
template <typename S>
inline S g_grad(S v, S sig) {
  return v >= S(0) ? S(1) : sig * (S(1) - sig);
}

struct Shape {
  int64_t B, T, H, G;
  bool reverse;
  int64_t step(int64_t s) const { return reverse ? T - 1 - s : s; }  // the time index of processing step s
};

// The tasks: (row b, units [j0, j1)). Whole rows when the batch alone feeds the threads; else each row
// is cut into blocks of a multiple of 16 units (whole vectors on AVX-512), so that B = 1 still splits.
struct Tasks {
  int64_t blocks, width;
  Tasks(const Shape& s, int nt) {
    const int64_t want = s.B >= 2 * nt ? 1 : (2 * nt + s.B - 1) / s.B;
    width = std::max<int64_t>(16, ((s.H + want - 1) / want + 15) / 16 * 16);
    blocks = (s.H + width - 1) / width;
  }
};

template <typename F>
void for_tasks(const Shape& s, int nthreads, F&& body) {
  const int nt = std::max(1, nthreads);
  const Tasks tasks(s, nt);
  const int64_t n = s.B * tasks.blocks;
  const int use = int(std::min<int64_t>(nt, n));
#pragma omp parallel for num_threads(use) schedule(static) if (use > 1)
  for (int64_t k = 0; k < n; ++k) {
    const int64_t b = k / tasks.blocks, j0 = (k % tasks.blocks) * tasks.width;
    body(b, j0, std::min(s.H, j0 + tasks.width));
  }
}

// ---------------------------------------------------------------- forward
// minGRU: z = σ(k_z), h̃ = g(k_h), h_t = (1 - z) h_{t-1} + z h̃.
// minLSTM: f = σ(k_f), i = σ(k_i), f' = f / (f + i), i' = i / (f + i), h_t = f' h_{t-1} + i' h̃.
// One step on units [j0, j1), restrict pointers so that the loops vectorise without aliasing checks.
template <typename S>
inline void forward_step_gru(const S* __restrict__ kz, const S* __restrict__ kh, const S* __restrict__ prev,
                             S* __restrict__ h, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const S z = sigmoid(kz[j]);
    const S h_tilde = g_act(kh[j], sigmoid(kh[j]));
    h[j] = (S(1) - z) * prev[j] + z * h_tilde;
  }
}

template <typename S>
inline void forward_step_lstm(const S* __restrict__ kf, const S* __restrict__ ki, const S* __restrict__ kh,
                              const S* __restrict__ prev, S* __restrict__ h, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const S f = sigmoid(kf[j]), i = sigmoid(ki[j]);
    const S h_tilde = g_act(kh[j], sigmoid(kh[j]));
    const S sum = f + i;
    h[j] = (f / sum) * prev[j] + (i / sum) * h_tilde;
  }
}

template <typename S, int KIND>
void forward_task(const Shape& s, const S* K, const uint8_t* mask, const S* h0, S* Y, S* St, S* hN, int64_t b,
                  int64_t j0, int64_t j1) {
  const int64_t H = s.H, GH = s.G * H;
  const S* prev = h0 + b * H;
  for (int64_t q = 0; q < s.T; ++q) {
    const int64_t t = s.step(q);
    const S* k = K + (b * s.T + t) * GH;
    S* y = Y + (b * s.T + t) * H;
    S* st = St + (b * s.T + t) * H;
    if (mask != nullptr && !mask[b * s.T + t]) {
      for (int64_t j = j0; j < j1; ++j) {
        st[j] = prev[j];
        y[j] = S(0);
      }
    } else if (KIND == MIN_GRU) {
      forward_step_gru(k, k + H, prev, st, j0, j1);
      if (y != st) std::copy(st + j0, st + j1, y + j0);
    } else {
      forward_step_lstm(k, k + H, k + 2 * H, prev, st, j0, j1);
      if (y != st) std::copy(st + j0, st + j1, y + j0);
    }
    prev = st;
  }
  std::copy(prev + j0, prev + j1, hN + b * H + j0);
}

// ---------------------------------------------------------------- backward
// With γ_t = ∂L/∂h_t (the output's gradient at step t plus what flows back from step t+1):
// minGRU   dk_z = γ (h̃ - h_{t-1}) z (1 - z),  dk_h = γ z g'(k_h),  γ_{t-1} += γ (1 - z)
// minLSTM  dk_f = γ (h_{t-1} - h̃) f' i' (1 - f),  dk_i = -γ (h_{t-1} - h̃) f' i' (1 - i),
//          dk_h = γ i' g'(k_h),  γ_{t-1} += γ f'
// (f' = σ(d) with d = log f - log i, so ∂f'/∂d = f' i', ∂d/∂k_f = 1 - f, ∂d/∂k_i = -(1 - i)).
// γ is carried in dh0's row, which ends as ∂L/∂h0. A masked step passes γ through and has dk = 0.
//
// One step of the reverse scan on units [j0, j1). Separate functions with restrict pointers: with the
// row pointers of one function GCC gave up on the aliasing checks and left the loop scalar.
template <typename S, bool HAS_DY>
inline void backward_step_gru(const S* __restrict__ kz, const S* __restrict__ kh, const S* __restrict__ prev,
                              const S* __restrict__ dy, S* __restrict__ dkz, S* __restrict__ dkh,
                              S* __restrict__ gam, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const S g = HAS_DY ? gam[j] + dy[j] : gam[j];
    const S z = sigmoid(kz[j]);
    const S v = kh[j];
    const S sig = sigmoid(v);
    const S h_tilde = g_act(v, sig);
    dkz[j] = g * (h_tilde - prev[j]) * z * (S(1) - z);
    dkh[j] = g * z * g_grad(v, sig);
    gam[j] = g * (S(1) - z);
  }
}

template <typename S, bool HAS_DY>
inline void backward_step_lstm(const S* __restrict__ kf, const S* __restrict__ ki, const S* __restrict__ kh,
                               const S* __restrict__ prev, const S* __restrict__ dy, S* __restrict__ dkf,
                               S* __restrict__ dki, S* __restrict__ dkh, S* __restrict__ gam, int64_t j0,
                               int64_t j1) {
  for (int64_t j = j0; j < j1; ++j) {
    const S g = HAS_DY ? gam[j] + dy[j] : gam[j];
    const S f = sigmoid(kf[j]), i = sigmoid(ki[j]);
    const S v = kh[j];
    const S sig = sigmoid(v);
    const S h_tilde = g_act(v, sig);
    const S sum = f + i;
    const S fn = f / sum, in = i / sum;
    const S d = g * (prev[j] - h_tilde) * fn * in;  // ∂L/∂d
    dkf[j] = d * (S(1) - f);
    dki[j] = -d * (S(1) - i);
    dkh[j] = g * in * g_grad(v, sig);
    gam[j] = g * fn;
  }
}

template <typename S, int KIND, bool HAS_DY>
void backward_task(const Shape& s, const S* K, const uint8_t* mask, const S* h0, const S* St, const S* dY,
                   const S* dhN, S* dK, S* dh0, int64_t b, int64_t j0, int64_t j1) {
  const int64_t H = s.H, GH = s.G * H;
  S* gam = dh0 + b * H;
  for (int64_t j = j0; j < j1; ++j) gam[j] = dhN != nullptr ? dhN[b * H + j] : S(0);
  for (int64_t q = s.T - 1; q >= 0; --q) {
    const int64_t t = s.step(q);
    const S* k = K + (b * s.T + t) * GH;
    S* dk = dK + (b * s.T + t) * GH;
    const S* prev = q > 0 ? St + (b * s.T + s.step(q - 1)) * H : h0 + b * H;
    const S* dy = HAS_DY ? dY + (b * s.T + t) * H : nullptr;  // HAS_DY a constant: the loops stay branch-free
    if (mask != nullptr && !mask[b * s.T + t]) {
      for (int64_t c = 0; c < s.G; ++c) std::fill(dk + c * H + j0, dk + c * H + j1, S(0));
      continue;
    }
    if (KIND == MIN_GRU)
      backward_step_gru<S, HAS_DY>(k, k + H, prev, dy, dk, dk + H, gam, j0, j1);
    else
      backward_step_lstm<S, HAS_DY>(k, k + H, k + 2 * H, prev, dy, dk, dk + H, dk + 2 * H, gam, j0, j1);
  }
}

template <typename S>
int forward_typed(int kind, const Shape& s, const void* K, const uint8_t* mask, const void* h0, void* Y, void* St,
                  void* hN, int nthreads) {
  const S *k = static_cast<const S*>(K), *h = static_cast<const S*>(h0);
  S *y = static_cast<S*>(Y), *st = static_cast<S*>(St), *hn = static_cast<S*>(hN);
  if (kind == MIN_GRU)
    for_tasks(s, nthreads, [&](int64_t b, int64_t j0, int64_t j1) {
      forward_task<S, MIN_GRU>(s, k, mask, h, y, st, hn, b, j0, j1);
    });
  else
    for_tasks(s, nthreads, [&](int64_t b, int64_t j0, int64_t j1) {
      forward_task<S, MIN_LSTM>(s, k, mask, h, y, st, hn, b, j0, j1);
    });
  return LK_OK;
}

template <typename S>
int backward_typed(int kind, const Shape& s, const void* K, const uint8_t* mask, const void* h0, const void* St,
                   const void* dY, const void* dhN, void* dK, void* dh0, int nthreads) {
  const S *k = static_cast<const S*>(K), *h = static_cast<const S*>(h0), *st = static_cast<const S*>(St);
  const S *dy = static_cast<const S*>(dY), *dhn = static_cast<const S*>(dhN);
  S *dk = static_cast<S*>(dK), *dh = static_cast<S*>(dh0);
  for_tasks(s, nthreads, [&](int64_t b, int64_t j0, int64_t j1) {
    if (kind == MIN_GRU && dy != nullptr)
      backward_task<S, MIN_GRU, true>(s, k, mask, h, st, dy, dhn, dk, dh, b, j0, j1);
    else if (kind == MIN_GRU)
      backward_task<S, MIN_GRU, false>(s, k, mask, h, st, dy, dhn, dk, dh, b, j0, j1);
    else if (dy != nullptr)
      backward_task<S, MIN_LSTM, true>(s, k, mask, h, st, dy, dhn, dk, dh, b, j0, j1);
    else
      backward_task<S, MIN_LSTM, false>(s, k, mask, h, st, dy, dhn, dk, dh, b, j0, j1);
  });
  return LK_OK;
}

bool valid(int kind, int dtype, int64_t B, int64_t T, int64_t H) {
  return (kind == MIN_GRU || kind == MIN_LSTM) && (dtype == F32 || dtype == F64) && B > 0 && T > 0 && H > 0;
}

}  // namespace

extern "C" {

int lk_abi_version() { return LK_ABI_VERSION; }

// Y, St (the same buffer as Y when mask is null), hN: outputs. h0 is required (zeros for none).
int lk_min_scan_forward(int kind, int dtype, int64_t B, int64_t T, int64_t H, int reverse, const void* K,
                        const uint8_t* mask, const void* h0, void* Y, void* St, void* hN, int nthreads) {
  if (!valid(kind, dtype, B, T, H) || K == nullptr || h0 == nullptr || Y == nullptr || St == nullptr || hN == nullptr)
    return LK_FAILED;
  if (mask == nullptr && St != Y) return LK_FAILED;
  const Shape s{B, T, H, kind == MIN_GRU ? 2 : 3, reverse != 0};
  return dtype == F32 ? forward_typed<float>(kind, s, K, mask, h0, Y, St, hN, nthreads)
                      : forward_typed<double>(kind, s, K, mask, h0, Y, St, hN, nthreads);
}

// dY and dhN may be null (no gradient); dK and dh0 are written whole.
int lk_min_scan_backward(int kind, int dtype, int64_t B, int64_t T, int64_t H, int reverse, const void* K,
                         const uint8_t* mask, const void* h0, const void* St, const void* dY, const void* dhN,
                         void* dK, void* dh0, int nthreads) {
  if (!valid(kind, dtype, B, T, H) || K == nullptr || h0 == nullptr || St == nullptr || dK == nullptr ||
      dh0 == nullptr)
    return LK_FAILED;
  const Shape s{B, T, H, kind == MIN_GRU ? 2 : 3, reverse != 0};
  return dtype == F32 ? backward_typed<float>(kind, s, K, mask, h0, St, dY, dhN, dK, dh0, nthreads)
                      : backward_typed<double>(kind, s, K, mask, h0, St, dY, dhN, dK, dh0, nthreads);
}

}  // extern "C"
