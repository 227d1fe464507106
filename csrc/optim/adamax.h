// Adamax (torch.optim.Adamax): Adam's first moment over an exponentially weighted infinity norm.
// Moves Adam's bytes (param, grad, exp_avg, exp_inf). Compiled inside kernel_table.cpp, once per
// instruction set (csrc/driver.h); the NumPy twin is in minigrad/optim/kernels_numpy/adamax.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- Adamax: g ← g + λθ;  m ← lerp(m, g, 1−β1);  u ← max(β2·u, |g| + eps);  θ ← θ − step_size·m / u,
//              with step_size = lr / (1 − β1ᵗ) computed by the caller ----------------------------------
template <bool L2, bool SmallWeight, typename T>
void adamax_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict u, int64_t n,
                 const AdamaxArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay), one_minus_beta1 = T(1 - a.beta1),
          beta2 = T(a.beta2), eps = T(a.eps), neg_step_size = T(-a.step_size);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if (L2) d = d + wd * p[i];
    m[i] = lerp<SmallWeight>(m[i], d, one_minus_beta1);
    const T decayed = u[i] * beta2, bound = std::fabs(d) + eps;
    u[i] = (decayed > bound || decayed != decayed) ? decayed : bound;  // torch.maximum: NaN propagates
    p[i] = p[i] + neg_step_size * m[i] / u[i];
  }
}

template <typename T>
void adamax(const Batch<T>& batch, const AdamaxArgs& a) {
  with_flags([&](auto l2, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      adamax_loop<l2, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                             array_at(batch, i, 2, begin), array_at(batch, i, 3, begin), n, a);
    });
  }, a.weight_decay != 0, std::fabs(1 - a.beta1) < 0.5);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
