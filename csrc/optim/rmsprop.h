// RMSprop, plain and centered, with or without momentum (torch.optim.RMSprop).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/rmsprop.py.
#pragma once
#include <cmath>
#include <limits>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- RMSprop: v ← αv + (1−α)g²;  centered: ḡ ← lerp(ḡ, g, 1−α), avg ← √(v − ḡ²) else √v;
//               avg ← avg + eps;  momentum: b ← μb + g/avg, θ ← θ − lr·b;  else θ ← θ − lr·g/avg -----
template <typename T>
constexpr T kInf = std::numeric_limits<T>::infinity();

template <bool L2, bool Centered, bool Momentum, bool SmallWeight, typename T>
void rmsprop_loop(T* __restrict p, const T* __restrict g, T* __restrict v, T* __restrict gavg, T* __restrict b,
                  int64_t n, const RmspropArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay), alpha = T(a.alpha),
          one_minus_alpha = T(1 - a.alpha), eps = T(a.eps), mu = T(a.momentum), neg_lr = T(-a.lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if (L2) d = d + wd * p[i];
    v[i] = v[i] * alpha + one_minus_alpha * d * d;
    T avg;
    if (Centered) {
      gavg[i] = lerp<SmallWeight>(gavg[i], d, one_minus_alpha);
      // v − ḡ², except that v = ∞ stays ∞ when ḡ² overflows too (∞ − ∞ would be NaN): torch's
      // addcmul computes it with one rounding (an FMA), which keeps the parameter where we would not.
      const T centered_v = v[i] - gavg[i] * gavg[i];
      avg = std::sqrt(v[i] == kInf<T> && std::fabs(gavg[i]) < kInf<T> ? v[i] : centered_v);
    } else {
      avg = std::sqrt(v[i]);
    }
    avg = avg + eps;
    if (Momentum) {
      b[i] = b[i] * mu + d / avg;
      p[i] = p[i] + neg_lr * b[i];
    } else {
      p[i] = p[i] + neg_lr * d / avg;
    }
  }
}

template <typename T>
void rmsprop(const Batch<T>& batch, const RmspropArgs& a) {
  with_flags([&](auto l2, auto centered, auto momentum, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      rmsprop_loop<l2, centered, momentum, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                                  array_at(batch, i, 2, begin), array_at(batch, i, 3, begin),
                                                  array_at(batch, i, 4, begin), n, a);
    });
  }, a.weight_decay != 0, a.centered, a.momentum > 0, std::fabs(1 - a.alpha) < 0.5);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
