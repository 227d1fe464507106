// ASGD, averaged stochastic gradient descent (torch.optim.ASGD).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/asgd.py.
#pragma once
#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- ASGD: d ← d + λθ;  θ ← θ(1 − lambd·η);  θ ← θ − η·d;  ax ← ax + (θ − ax)·μ, or ax ← θ when μ = 1,
//            with this step's η and μ (the state the previous step left) given by the caller ----------
template <bool L2, bool Copy, typename T>
void asgd_loop(T* __restrict p, const T* __restrict g, T* __restrict ax, int64_t n, const AsgdArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay), decay = T(1 - a.lambd * a.eta),
          neg_eta = T(-a.eta), mu = T(a.mu);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if (L2) d = d + wd * p[i];
    p[i] = p[i] * decay;
    p[i] = p[i] + neg_eta * d;
    ax[i] = Copy ? p[i] : ax[i] + (p[i] - ax[i]) * mu;
  }
}

template <typename T>
void asgd(const Batch<T>& batch, const AsgdArgs& a) {
  with_flags([&](auto l2, auto copy) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      asgd_loop<l2, copy>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin), array_at(batch, i, 2, begin),
                          n, a);
    });
  }, a.weight_decay != 0, a.mu == 1);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
