// Adam and AdamW (torch.optim.Adam / AdamW), with or without amsgrad.
//
// Adam and AdamW move the same bytes (param, grad, exp_avg, exp_avg_sq, and max_exp_avg_sq with
// amsgrad) and share one loop: AdamW is Adam with decoupled_weight_decay, a per-call scalar (`decay`).
// NAdam, RAdam and Adamax will keep the same two moments (Adamax an infinity norm u in place of v)
// and so move the same bytes too, but each has its own update equation (NAdam's momentum-decay
// product, RAdam's rectified or plain step, Adamax's max(β2·u, |g| + eps)): they get their own
// *_loop and entry, beside Adam's here or in a header of their own, not template flags in this loop,
// so that each loop still reads as its equation and Adam's instantiations stay as they are.
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/adam.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- Adam: θ ← θ(1 − lr·λ) if decoupled, else g ← g + λθ;  m ← lerp(m, g, 1−β1);
//            v ← β2·v + (1−β2)g²;  amsgrad: v̂ ← max(v̂, v);  θ ← θ − step_size·m / (√v / √bc2 + eps),
//            with step_size = lr / (1 − β1ᵗ) and √bc2 = √(1 − β2ᵗ) computed by the caller -----------
template <bool L2, bool Amsgrad, bool SmallWeight, typename T>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict vmax,
               int64_t n, const AdamArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay),
          decay = T(a.decoupled_weight_decay ? 1 - a.lr * a.weight_decay : 1),
          one_minus_beta1 = T(1 - a.beta1), beta2 = T(a.beta2), one_minus_beta2 = T(1 - a.beta2),
          bc2_sqrt = T(a.bias_correction2_sqrt), eps = T(a.eps), neg_step_size = T(-a.step_size);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    p[i] = p[i] * decay;  // exact (×1) unless decoupled weight decay is on
    if (L2) d = d + wd * p[i];
    m[i] = lerp<SmallWeight>(m[i], d, one_minus_beta1);
    v[i] = v[i] * beta2 + one_minus_beta2 * d * d;
    T second = v[i];
    if (Amsgrad) second = vmax[i] = (vmax[i] < v[i] || v[i] != v[i]) ? v[i] : vmax[i];  // NaN-propagating max
    p[i] = p[i] + neg_step_size * m[i] / (std::sqrt(second) / bc2_sqrt + eps);
  }
}

template <typename T>
void adam(const Batch<T>& batch, const AdamArgs& a) {
  with_flags([&](auto l2, auto amsgrad, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      adam_loop<l2, amsgrad, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                    array_at(batch, i, 2, begin), array_at(batch, i, 3, begin),
                                    array_at(batch, i, 4, begin), n, a);
    });
  }, a.weight_decay != 0 && !a.decoupled_weight_decay, a.amsgrad, std::fabs(1 - a.beta1) < 0.5);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
