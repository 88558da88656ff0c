// The sLSTM's time loop on the CPU (Beck et al. 2024, xLSTM sec. 2.2): per step one small matmul per
// head (the block-diagonal recurrent weight, BLAS) and one pass of the stabilised exponential gating,
// forward and backward. The input projection W x_t + b of every step is one matmul done by torch
// before the call; this file sees only its result P.
//
// Built and loaded by lstmkit/ops/_cpu/build.py (build_library/load_library) like rnn_kernels.cpp: no
// Python or torch headers; torch's BLAS (`sgemm_`/`dgemm_`) is handed in by address through
// lk_set_blas, and without it a plain loop multiplies.
//
// Dimensions: T time, B batch, H hidden, NH heads of DH = H / NH units, gates i, f, z, o.
// Layouts (all contiguous, time-major, as lstmkit/ops/slstm.py passes them):
//   P, G    (T, B, 4H)  gate-major: column g*H + k*DH + j is gate g of unit j of head k
//   R       (NH, DH, 4DH): R[k, a, g*DH + j] takes h unit a of head k to gate g, unit j of head k
//   Hs, Cs, Ns, Ms (T, B, H)  the states after each step (carried through masked steps)
//   mask    (B, T) uint8, 1 = a real step (absent: every step is real)
// The equations, one line each in forward_step below, are those of lstmkit/ops/slstm.py's docstring:
//   m_t = ĩ where n_{t-1} = 0 or ĩ > log f + m_{t-1}, else log f + m_{t-1}
//   i' = exp(ĩ - m_t), f' = exp(min(log f + m_{t-1} - m_t, 0)), c = f' c + i' tanh(z̃), n = f' n + i',
//   h = σ(õ) c / n.
// Threads split the batch, each running the whole time loop on its rows (no barrier per step).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define LK_HAVE_MXCSR 1
#endif

#define LK_ABI_VERSION 1

namespace {

using sgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                         const float*, const int*, const float*, const int*, const float*, float*, const int*);
using dgemm_t = void (*)(const char*, const char*, const int*, const int*, const int*, const double*,
                         const double*, const int*, const double*, const int*, const double*, double*, const int*);
sgemm_t blas_s = nullptr;
dgemm_t blas_d = nullptr;

// Row-major C (M x N) = op(A) (M x K) op(B) (K x N) + beta C; op(B) = B^T when tb.
template <typename S>
void matmul_loop(bool tb, int M, int N, int K, const S* A, int lda, const S* Bm, int ldb, S beta, S* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    S* c = C + int64_t(i) * ldc;
    for (int j = 0; j < N; ++j) c[j] = beta == S(0) ? S(0) : beta * c[j];
    for (int k = 0; k < K; ++k) {
      const S a = A[int64_t(i) * lda + k];
      if (tb) {
        for (int j = 0; j < N; ++j) c[j] += a * Bm[int64_t(j) * ldb + k];
      } else {
        const S* b = Bm + int64_t(k) * ldb;
        for (int j = 0; j < N; ++j) c[j] += a * b[j];
      }
    }
  }
}

// Through the column-major BLAS: C^T = op(B)^T A^T.
void matmul(bool tb, int M, int N, int K, const float* A, int lda, const float* Bm, int ldb, float beta, float* C,
            int ldc) {
  if (blas_s == nullptr) return matmul_loop(tb, M, N, K, A, lda, Bm, ldb, beta, C, ldc);
  const char ca = 'N', cb = tb ? 'T' : 'N';
  const float one = 1.0f;
  blas_s(&cb, &ca, &N, &M, &K, &one, Bm, &ldb, A, &lda, &beta, C, &ldc);
}

void matmul(bool tb, int M, int N, int K, const double* A, int lda, const double* Bm, int ldb, double beta, double* C,
            int ldc) {
  if (blas_d == nullptr) return matmul_loop(tb, M, N, K, A, lda, Bm, ldb, beta, C, ldc);
  const char ca = 'N', cb = tb ? 'T' : 'N';
  const double one = 1.0;
  blas_d(&cb, &ca, &N, &M, &K, &one, Bm, &ldb, A, &lda, &beta, C, &ldc);
}

template <typename S>
inline S sigmoid(S x) { return S(1) / (S(1) + std::exp(-x)); }

// log σ(x) = min(x, 0) - log1p(exp(-|x|)): finite for any finite x (log(σ(x)) underflows below -88 in float32).
template <typename S>
inline S log_sigmoid(S x) { return std::min(x, S(0)) - std::log1p(std::exp(-std::fabs(x))); }

// Subnormals flushed to zero while the loops run: the products of gates below 1 over long sequences
// underflow, and x86 arithmetic on subnormals is about 100x slower (rnn_kernels.cpp measured 0.8 s
// against 0.03 s for one backward). Only values below 1.2e-38 (float32) / 2.2e-308 (float64) change.
struct FlushDenormals {
#ifdef LK_HAVE_MXCSR
  unsigned int saved;
  FlushDenormals() : saved(_mm_getcsr()) { _mm_setcsr(saved | 0x8040u); }
  ~FlushDenormals() { _mm_setcsr(saved); }
#endif
};

enum Status { LK_OK = 0, LK_NO_MEMORY = 1, LK_FAILED = 2 };

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

struct Shape {
  int64_t T, B, H, NH, DH;
  bool forget_exp;
  const uint8_t* mask;
  bool real(int64_t b, int64_t t) const { return mask == nullptr || mask[b * T + t] != 0; }
};

// The states before step t of row b: the initial ones or those after step t-1.
template <typename S>
struct Prev {
  const S *h, *c, *n, *m;
};

template <typename S>
Prev<S> prev_states(const Shape& s, int64_t t, int64_t b, const S* h0, const S* c0, const S* n0, const S* m0,
                    const S* Hs, const S* Cs, const S* Ns, const S* Ms) {
  if (t == 0) return {h0 + b * s.H, c0 + b * s.H, n0 + b * s.H, m0 + b * s.H};
  const int64_t o = ((t - 1) * s.B + b) * s.H;
  return {Hs + o, Cs + o, Ns + o, Ms + o};
}

template <typename S>
void forward_rows(const Shape& s, int64_t b0, int64_t b1, const S* P, const S* R, const S* h0, const S* c0,
                  const S* n0, const S* m0, S* G, S* Hs, S* Cs, S* Ns, S* Ms) {
  const int64_t H = s.H, DH = s.DH, nb = b1 - b0, G4 = 4 * H;
  std::vector<S> rec(nb * G4);  // (nb, NH, 4DH): h_{t-1} R_k per head
  for (int64_t t = 0; t < s.T; ++t) {
    const S* hp = t == 0 ? h0 + b0 * H : Hs + ((t - 1) * s.B + b0) * H;  // (nb, H), row stride H
    for (int64_t k = 0; k < s.NH; ++k)
      matmul(false, int(nb), int(4 * DH), int(DH), hp + k * DH, int(H), R + k * DH * 4 * DH, int(4 * DH), S(0),
             rec.data() + k * 4 * DH, int(G4));
    for (int64_t r = 0; r < nb; ++r) {
      const int64_t b = b0 + r, row = t * s.B + b;
      const Prev<S> p = prev_states(s, t, b, h0, c0, n0, m0, Hs, Cs, Ns, Ms);
      S *h = Hs + row * H, *c = Cs + row * H, *n = Ns + row * H, *m = Ms + row * H, *g = G + row * G4;
      if (!s.real(b, t)) {  // a padded step keeps all four states
        std::copy(p.h, p.h + H, h);
        std::copy(p.c, p.c + H, c);
        std::copy(p.n, p.n + H, n);
        std::copy(p.m, p.m + H, m);
        std::fill(g, g + G4, S(0));
        continue;
      }
      const S* pre_x = P + row * G4;
      const S* pre_h = rec.data() + r * G4;
      for (int64_t k = 0; k < s.NH; ++k) {
        for (int64_t j = 0; j < DH; ++j) {
          const int64_t u = k * DH + j, hr = k * 4 * DH + j;
          const S i_raw = pre_x[u] + pre_h[hr];
          const S f_raw = pre_x[H + u] + pre_h[hr + DH];
          const S z_raw = pre_x[2 * H + u] + pre_h[hr + 2 * DH];
          const S o_raw = pre_x[3 * H + u] + pre_h[hr + 3 * DH];
          g[u] = i_raw, g[H + u] = f_raw, g[2 * H + u] = z_raw, g[3 * H + u] = o_raw;
          const S log_f = s.forget_exp ? f_raw : log_sigmoid(f_raw);
          const S lfm = log_f + p.m[u];
          const S m_new = (p.n[u] == S(0) || i_raw > lfm) ? i_raw : lfm;
          const S i_s = std::exp(i_raw - m_new);
          const S f_s = std::exp(std::min(lfm - m_new, S(0)));
          c[u] = f_s * p.c[u] + i_s * std::tanh(z_raw);
          n[u] = f_s * p.n[u] + i_s;
          h[u] = sigmoid(o_raw) * c[u] / n[u];
          m[u] = m_new;
        }
      }
    }
  }
}

template <typename S>
void backward_rows(const Shape& s, int64_t b0, int64_t b1, const S* G, const S* R, const S* h0, const S* c0,
                   const S* n0, const S* m0, const S* Hs, const S* Cs, const S* Ns, const S* Ms, const S* dHs,
                   const S* dCs, const S* dNs, const S* dMs, S* dG, S* dh0, S* dc0, S* dn0, S* dm0) {
  const int64_t H = s.H, DH = s.DH, nb = b1 - b0, G4 = 4 * H;
  std::vector<S> dh(nb * H, S(0)), dc(nb * H, S(0)), dn(nb * H, S(0)), dm(nb * H, S(0));
  std::vector<S> dpre(nb * G4);  // (nb, NH, 4DH): the pre-activations' gradients, head by head
  for (int64_t t = s.T - 1; t >= 0; --t) {
    for (int64_t r = 0; r < nb; ++r) {
      const int64_t b = b0 + r, row = t * s.B + b, o = row * H;
      S *dh_r = dh.data() + r * H, *dc_r = dc.data() + r * H, *dn_r = dn.data() + r * H, *dm_r = dm.data() + r * H;
      for (int64_t u = 0; u < H; ++u) {  // the upstream gradients of step t's states
        if (dHs) dh_r[u] += dHs[o + u];
        if (dCs) dc_r[u] += dCs[o + u];
        if (dNs) dn_r[u] += dNs[o + u];
        if (dMs) dm_r[u] += dMs[o + u];
      }
      S* dg = dG + row * G4;
      S* dp = dpre.data() + r * G4;
      if (!s.real(b, t)) {  // the states pass through unchanged, and so do their gradients
        std::fill(dg, dg + G4, S(0));
        std::fill(dp, dp + G4, S(0));
        continue;
      }
      const Prev<S> p = prev_states(s, t, b, h0, c0, n0, m0, Hs, Cs, Ns, Ms);
      const S *g = G + row * G4, *h = Hs + o, *c = Cs + o, *n = Ns + o, *m = Ms + o;
      for (int64_t k = 0; k < s.NH; ++k) {
        for (int64_t j = 0; j < DH; ++j) {
          const int64_t u = k * DH + j, hr = k * 4 * DH + j;
          const S i_raw = g[u], f_raw = g[H + u], z_raw = g[2 * H + u], o_raw = g[3 * H + u];
          const S log_f = s.forget_exp ? f_raw : log_sigmoid(f_raw);
          const S lfm = log_f + p.m[u];
          const bool take_i = p.n[u] == S(0) || i_raw > lfm;  // which side gave m_t
          const S a = lfm - m[u];
          const S i_s = std::exp(i_raw - m[u]);
          const S f_s = std::exp(std::min(a, S(0)));
          const S z = std::tanh(z_raw), og = sigmoid(o_raw);
          const S dh_u = dh_r[u];
          const S d_o = dh_u * c[u] / n[u];
          const S dc_u = dc_r[u] + dh_u * og / n[u];
          const S dn_u = dn_r[u] - dh_u * h[u] / n[u];
          const S di_s = dc_u * z + dn_u;
          const S df_s = dc_u * p.c[u] + dn_u * p.n[u];
          const S da = a <= S(0) ? df_s * f_s : S(0);  // f' = exp(min(a, 0))
          S d_i = di_s * i_s;
          const S dm_total = dm_r[u] - d_i - da;  // i' and f' both read m_t
          S d_lfm = da;
          if (take_i)
            d_i += dm_total;
          else
            d_lfm += dm_total;
          const S d_f = s.forget_exp ? d_lfm : d_lfm * (S(1) - sigmoid(f_raw));
          const S d_z = dc_u * i_s * (S(1) - z * z);
          const S d_og = d_o * og * (S(1) - og);
          dg[u] = d_i, dg[H + u] = d_f, dg[2 * H + u] = d_z, dg[3 * H + u] = d_og;
          dp[hr] = d_i, dp[hr + DH] = d_f, dp[hr + 2 * DH] = d_z, dp[hr + 3 * DH] = d_og;
          dc_r[u] = dc_u * f_s;
          dn_r[u] = dn_u * f_s;
          dm_r[u] = d_lfm;  // log f + m_{t-1} carries m_{t-1}
          dh_r[u] = S(0);  // h_{t-1} enters step t only through R: added below
        }
      }
    }
    // dh_{t-1} += dpre_k R_k^T per head; masked rows have dpre = 0 and keep their dh
    for (int64_t k = 0; k < s.NH; ++k)
      matmul(true, int(nb), int(DH), int(4 * DH), dpre.data() + k * 4 * DH, int(G4), R + k * DH * 4 * DH,
             int(4 * DH), S(1), dh.data() + k * DH, int(H));
  }
  std::copy(dh.begin(), dh.end(), dh0 + b0 * H);
  std::copy(dc.begin(), dc.end(), dc0 + b0 * H);
  std::copy(dn.begin(), dn.end(), dn0 + b0 * H);
  std::copy(dm.begin(), dm.end(), dm0 + b0 * H);
}

template <typename F>
int over_threads(int64_t B, int nthreads, F&& rows) {
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>(nthreads, B)));
  std::vector<int> status(nt, LK_OK);
  auto body = [&](int k) {
    status[k] = guarded([&] {
      FlushDenormals ftz;
      rows(B * k / nt, B * (k + 1) / nt);
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

Shape make_shape(int64_t T, int64_t B, int64_t H, int64_t NH, int forget_exp, const void* mask) {
  return Shape{T, B, H, NH, H / NH, forget_exp != 0, static_cast<const uint8_t*>(mask)};
}

template <typename S>
int forward(const Shape& s, int nthreads, const void* P, const void* R, const void* h0, const void* c0,
            const void* n0, const void* m0, void* G, void* Hs, void* Cs, void* Ns, void* Ms) {
  return over_threads(s.B, nthreads, [&](int64_t b0, int64_t b1) {
    forward_rows<S>(s, b0, b1, static_cast<const S*>(P), static_cast<const S*>(R), static_cast<const S*>(h0),
                    static_cast<const S*>(c0), static_cast<const S*>(n0), static_cast<const S*>(m0),
                    static_cast<S*>(G), static_cast<S*>(Hs), static_cast<S*>(Cs), static_cast<S*>(Ns),
                    static_cast<S*>(Ms));
  });
}

template <typename S>
int backward(const Shape& s, int nthreads, const void* G, const void* R, const void* h0, const void* c0,
             const void* n0, const void* m0, const void* Hs, const void* Cs, const void* Ns, const void* Ms,
             const void* dHs, const void* dCs, const void* dNs, const void* dMs, void* dG, void* dh0, void* dc0,
             void* dn0, void* dm0) {
  auto in = [](const void* p) { return static_cast<const S*>(p); };
  auto out = [](void* p) { return static_cast<S*>(p); };
  return over_threads(s.B, nthreads, [&](int64_t b0, int64_t b1) {
    backward_rows<S>(s, b0, b1, in(G), in(R), in(h0), in(c0), in(n0), in(m0), in(Hs), in(Cs), in(Ns), in(Ms),
                     in(dHs), in(dCs), in(dNs), in(dMs), out(dG), out(dh0), out(dc0), out(dn0), out(dm0));
  });
}

}  // namespace

extern "C" {

int lk_abi_version() { return LK_ABI_VERSION; }

void lk_set_blas(void* sgemm, void* dgemm) {
  blas_s = reinterpret_cast<sgemm_t>(sgemm);
  blas_d = reinterpret_cast<dgemm_t>(dgemm);
}

// dtype 0 float32, 1 float64. Each returns a Status (0 done, 1 out of memory, 2 another failure), never throws.
int lk_slstm_forward(int dtype, int64_t T, int64_t B, int64_t H, int64_t NH, int forget_exp, int nthreads,
                     const void* mask, const void* P, const void* R, const void* h0, const void* c0, const void* n0,
                     const void* m0, void* G, void* Hs, void* Cs, void* Ns, void* Ms) {
  const Shape s = make_shape(T, B, H, NH, forget_exp, mask);
  int status = LK_OK;
  const int caught = guarded([&] {
    status = dtype == 0 ? forward<float>(s, nthreads, P, R, h0, c0, n0, m0, G, Hs, Cs, Ns, Ms)
                        : forward<double>(s, nthreads, P, R, h0, c0, n0, m0, G, Hs, Cs, Ns, Ms);
  });
  return caught != LK_OK ? caught : status;
}

int lk_slstm_backward(int dtype, int64_t T, int64_t B, int64_t H, int64_t NH, int forget_exp, int nthreads,
                      const void* mask, const void* G, const void* R, const void* h0, const void* c0, const void* n0,
                      const void* m0, const void* Hs, const void* Cs, const void* Ns, const void* Ms,
                      const void* dHs, const void* dCs, const void* dNs, const void* dMs, void* dG, void* dh0,
                      void* dc0, void* dn0, void* dm0) {
  const Shape s = make_shape(T, B, H, NH, forget_exp, mask);
  int status = LK_OK;
  const int caught = guarded([&] {
    status = dtype == 0 ? backward<float>(s, nthreads, G, R, h0, c0, n0, m0, Hs, Cs, Ns, Ms, dHs, dCs, dNs, dMs, dG,
                                          dh0, dc0, dn0, dm0)
                        : backward<double>(s, nthreads, G, R, h0, c0, n0, m0, Hs, Cs, Ns, Ms, dHs, dCs, dNs, dMs, dG,
                                           dh0, dc0, dn0, dm0);
  });
  return caught != LK_OK ? caught : status;
}

}  // extern "C"
