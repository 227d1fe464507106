// Adagrad (torch.optim.Adagrad).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/adagrad.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- Adagrad: s ← s + g²;  θ ← θ − clr·g / (√s + eps) ----------------------------------------------
template <bool L2, typename T>
void adagrad_loop(T* __restrict p, const T* __restrict g, T* __restrict s, int64_t n, const AdagradArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay), eps = T(a.eps), neg_clr = T(-a.clr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if (L2) d = d + wd * p[i];
    s[i] = s[i] + d * d;
    p[i] = p[i] + neg_clr * d / (std::sqrt(s[i]) + eps);
  }
}

template <typename T>
void adagrad(const Batch<T>& batch, const AdagradArgs& a) {
  with_flags([&](auto l2) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      adagrad_loop<l2>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin), array_at(batch, i, 2, begin), n, a);
    });
  }, a.weight_decay != 0);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
