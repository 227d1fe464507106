// SGD with momentum and Nesterov momentum (torch.optim.SGD).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/sgd.py.
#pragma once
#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- SGD: b ← μ·b + (1 − dampening)·g (b ← g on the first step); g ← g + μ·b (nesterov) or b;
//           θ ← θ − lr·g --------------------------------------------------------------------------
template <bool L2, bool Momentum, bool FirstStep, bool Nesterov, typename T>
void sgd_loop(T* __restrict p, const T* __restrict g, T* __restrict b, int64_t n, const SgdArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay), mu = T(a.momentum),
          keep = T(1 - a.dampening), neg_lr = T(-a.lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if (L2) d = d + wd * p[i];
    if (Momentum) {
      b[i] = FirstStep ? d : b[i] * mu + keep * d;
      d = Nesterov ? d + mu * b[i] : b[i];
    }
    p[i] = p[i] + neg_lr * d;
  }
}

template <typename T>
void sgd(const Batch<T>& batch, const SgdArgs& a) {
  with_flags([&](auto l2, auto momentum, auto first, auto nesterov) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      sgd_loop<l2, momentum, first, nesterov>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                              array_at(batch, i, 2, begin), n, a);
    });
  }, a.weight_decay != 0, a.momentum != 0, a.first_step, a.nesterov);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
