// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2), with
// decoupled weight decay. torch.optim has no Lion: the reference is the paper's update.
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/lion.py.
#pragma once
#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- Lion: c = β1·m + (1−β1)·d;  θ ← θ(1 − lr·λ);  θ ← θ − lr·sign(c);  m ← β2·m + (1−β2)·d,
//            with sign(0) = 0 and sign(NaN) = NaN ----------------------------------------------------
template <typename T>
void lion_loop(T* __restrict p, const T* __restrict g, T* __restrict m, int64_t n, const LionArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), beta1 = T(a.beta1), one_minus_beta1 = T(1 - a.beta1),
          beta2 = T(a.beta2), one_minus_beta2 = T(1 - a.beta2), decay = T(1 - a.lr * a.weight_decay),
          neg_lr = T(-a.lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T d = sign * g[i];
    const T c = m[i] * beta1 + one_minus_beta1 * d;
    const T direction = c != c ? c : T(c > 0) - T(c < 0);
    p[i] = p[i] * decay;  // exact (×1) without weight decay
    p[i] = p[i] + neg_lr * direction;
    m[i] = m[i] * beta2 + one_minus_beta2 * d;
  }
}

template <typename T>
void lion(const Batch<T>& batch, const LionArgs& a) {
  for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
    lion_loop(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin), array_at(batch, i, 2, begin), n, a);
  });
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
