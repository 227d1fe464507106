// Schedule-Free AdamW and SGD (Defazio et al. 2024, "The Road Less Scheduled"), as the reference
// implementation (the `schedulefree` package, its non-closure AdamWScheduleFree / SGDScheduleFree).
// The parameter holds y, the point the gradient is taken at; the state z is the base sequence. The
// average x, which evaluation uses, is never stored: train()/eval() move the parameter between y and
// x with the averaging kernel `lerp` (csrc/optim/averaging.h).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/schedulefree.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- Schedule-Free AdamW: v ← β2·v + (1−β2)g²;  d ← g / (√(v / bc2) + eps);  d ← d + λy;
//        y ← lerp(y, z, c) + y_step·d;  z ← z − lr·d, with the averaging weight c = ckp1 and
//        y_step = lr·(β1(1 − c) − 1) computed by the caller ------------------------------------------
template <bool WeightDecay, bool SmallWeight, typename T>
void schedulefree_adamw_loop(T* __restrict y, const T* __restrict g, T* __restrict z, T* __restrict v, int64_t n,
                             const SchedulefreeAdamwArgs& a) {
  const T beta2 = T(a.beta2), one_minus_beta2 = T(1 - a.beta2), bc2 = T(a.bias_correction2), eps = T(a.eps),
          wd = T(a.weight_decay), ckp1 = T(a.ckp1), y_step = T(a.y_step), neg_lr = T(-a.lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    v[i] = v[i] * beta2 + one_minus_beta2 * g[i] * g[i];
    T d = g[i] / (std::sqrt(v[i] / bc2) + eps);
    if (WeightDecay) d = d + wd * y[i];
    y[i] = lerp<SmallWeight>(y[i], z[i], ckp1) + y_step * d;
    z[i] = z[i] + neg_lr * d;
  }
}

template <typename T>
void schedulefree_adamw(const Batch<T>& batch, const SchedulefreeAdamwArgs& a) {
  with_flags([&](auto weight_decay, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      schedulefree_adamw_loop<weight_decay, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                                   array_at(batch, i, 2, begin), array_at(batch, i, 3, begin), n, a);
    });
  }, a.weight_decay != 0, std::fabs(a.ckp1) < 0.5);
}

// ---- Schedule-Free SGD: d ← g + λy;  y ← lerp(y, z, c) + y_step·d;  z ← z − lr·d,
//        y_step = lr·(momentum·(1 − c) − 1) ------------------------------------------------------------
template <bool WeightDecay, bool SmallWeight, typename T>
void schedulefree_sgd_loop(T* __restrict y, const T* __restrict g, T* __restrict z, int64_t n,
                           const SchedulefreeSgdArgs& a) {
  const T wd = T(a.weight_decay), ckp1 = T(a.ckp1), y_step = T(a.y_step), neg_lr = T(-a.lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (WeightDecay) d = d + wd * y[i];
    y[i] = lerp<SmallWeight>(y[i], z[i], ckp1) + y_step * d;
    z[i] = z[i] + neg_lr * d;
  }
}

template <typename T>
void schedulefree_sgd(const Batch<T>& batch, const SchedulefreeSgdArgs& a) {
  with_flags([&](auto weight_decay, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      schedulefree_sgd_loop<weight_decay, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                                 array_at(batch, i, 2, begin), n, a);
    });
  }, a.weight_decay != 0, std::fabs(a.ckp1) < 0.5);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
