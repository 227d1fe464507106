// NAdam (torch.optim.NAdam), with L2 or decoupled weight decay: Adam's moments with Nesterov's
// momentum schedule. Moves Adam's bytes (param, grad, exp_avg, exp_avg_sq). The schedule
// μₜ = β1(1 − 0.96^(tψ)/2) and its running product are per-step scalars: the caller computes them in
// float64 and passes the two step sizes. Compiled inside kernel_table.cpp, once per instruction set
// (csrc/driver.h); the NumPy twin is in minigrad/optim/kernels_numpy/nadam.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- NAdam: θ ← θ(1 − lr·λ) if decoupled, else g ← g + λθ;  m ← lerp(m, g, 1−β1);
//             v ← β2·v + (1−β2)g²;  denom ← √(v / (1 − β2ᵗ)) + eps;
//             θ ← θ − grad_step_size·g / denom;  θ ← θ − exp_avg_step_size·m / denom,
//             with grad_step_size = lr(1 − μₜ)/(1 − Πᵢ≤ₜ μᵢ), exp_avg_step_size = lr·μₜ₊₁/(1 − Πᵢ≤ₜ₊₁ μᵢ) --
template <bool L2, bool SmallWeight, typename T>
void nadam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                const NadamArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay),
          decay = T(a.decoupled_weight_decay ? 1 - a.lr * a.weight_decay : 1),
          one_minus_beta1 = T(1 - a.beta1), beta2 = T(a.beta2), one_minus_beta2 = T(1 - a.beta2),
          bias_correction2 = T(a.bias_correction2), eps = T(a.eps), neg_grad_step = T(-a.grad_step_size),
          neg_exp_avg_step = T(-a.exp_avg_step_size);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    p[i] = p[i] * decay;  // exact (×1) unless decoupled weight decay is on
    if (L2) d = d + wd * p[i];
    m[i] = lerp<SmallWeight>(m[i], d, one_minus_beta1);
    v[i] = v[i] * beta2 + one_minus_beta2 * d * d;
    const T denom = std::sqrt(v[i] / bias_correction2) + eps;
    p[i] = p[i] + neg_grad_step * d / denom;
    p[i] = p[i] + neg_exp_avg_step * m[i] / denom;
  }
}

template <typename T>
void nadam(const Batch<T>& batch, const NadamArgs& a) {
  with_flags([&](auto l2, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      nadam_loop<l2, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                            array_at(batch, i, 2, begin), array_at(batch, i, 3, begin), n, a);
    });
  }, a.weight_decay != 0 && !a.decoupled_weight_decay, std::fabs(1 - a.beta1) < 0.5);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
