// RAdam (torch.optim.RAdam), with L2 or decoupled weight decay: Adam whose adaptive step is
// rectified, or left out while the variance estimate is unreliable (ρₜ ≤ 5). Moves Adam's bytes
// (param, grad, exp_avg, exp_avg_sq). ρₜ, the rectification term and the switch are per-step scalars
// computed by the caller in float64; the switch picks the loop (a template flag). Compiled inside
// kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/radam.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- RAdam: θ ← θ(1 − lr·λ) if decoupled, else g ← g + λθ;  m ← lerp(m, g, 1−β1);
//             v ← β2·v + (1−β2)g²;  s ← (m / (1 − β1ᵗ))·lr;
//             rectified (ρₜ > 5): θ ← θ − s · (1/(√v + eps))·√(1 − β2ᵗ) · rect;  else θ ← θ − s -------
template <bool L2, bool Rectified, bool SmallWeight, typename T>
void radam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                const RadamArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay),
          decay = T(a.decoupled_weight_decay ? 1 - a.lr * a.weight_decay : 1),
          one_minus_beta1 = T(1 - a.beta1), beta2 = T(a.beta2), one_minus_beta2 = T(1 - a.beta2), lr = T(a.lr),
          bias_correction1 = T(a.bias_correction1), bc2_sqrt = T(a.bias_correction2_sqrt), rect = T(a.rect),
          eps = T(a.eps);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    p[i] = p[i] * decay;  // exact (×1) unless decoupled weight decay is on
    if (L2) d = d + wd * p[i];
    m[i] = lerp<SmallWeight>(m[i], d, one_minus_beta1);
    v[i] = v[i] * beta2 + one_minus_beta2 * d * d;
    const T step = m[i] / bias_correction1 * lr;
    if (Rectified)
      p[i] = p[i] - step * (T(1) / (std::sqrt(v[i]) + eps) * bc2_sqrt) * rect;
    else
      p[i] = p[i] - step;
  }
}

template <typename T>
void radam(const Batch<T>& batch, const RadamArgs& a) {
  with_flags([&](auto l2, auto rectified, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      radam_loop<l2, rectified, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                       array_at(batch, i, 2, begin), array_at(batch, i, 3, begin), n, a);
    });
  }, a.weight_decay != 0 && !a.decoupled_weight_decay, a.rectified, std::fabs(1 - a.beta1) < 0.5);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
