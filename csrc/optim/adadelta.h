// Adadelta (torch.optim.Adadelta).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/adadelta.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- Adadelta: v ← ρv + (1−ρ)g²;  Δ ← √(u + eps) / √(v + eps) · g;  u ← ρu + (1−ρ)Δ²;  θ ← θ − lr·Δ --
template <bool L2, typename T>
void adadelta_loop(T* __restrict p, const T* __restrict g, T* __restrict v, T* __restrict u, int64_t n,
                   const AdadeltaArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay), rho = T(a.rho), one_minus_rho = T(1 - a.rho),
          eps = T(a.eps), neg_lr = T(-a.lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if (L2) d = d + wd * p[i];
    v[i] = v[i] * rho + one_minus_rho * d * d;
    const T delta = std::sqrt(u[i] + eps) / std::sqrt(v[i] + eps) * d;
    u[i] = u[i] * rho + one_minus_rho * delta * delta;
    p[i] = p[i] + neg_lr * delta;
  }
}

template <typename T>
void adadelta(const Batch<T>& batch, const AdadeltaArgs& a) {
  with_flags([&](auto l2) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      adadelta_loop<l2>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin), array_at(batch, i, 2, begin),
                        array_at(batch, i, 3, begin), n, a);
    });
  }, a.weight_decay != 0);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
