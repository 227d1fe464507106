// Muon (torch.optim.Muon): the per-element parts around the Newton–Schulz orthogonalisation of the
// momentum, which is a few matrix products and runs through NumPy's matmul (newton_schulz in
// minigrad/optim/muon.py, shared by both backends). Two kernels, one before and one after it.
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twins are in
// minigrad/optim/kernels_numpy/muon.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- muon_momentum: b ← lerp(b, g, 1 − μ);  u ← lerp(g, b, μ) if nesterov else b -------------------
template <bool Nesterov, bool SmallKeep, bool SmallMomentum, typename T>
void muon_momentum_loop(const T* __restrict g, T* __restrict b, T* __restrict u, int64_t n,
                        const MuonMomentumArgs& a) {
  const T keep = T(1 - a.momentum), mu = T(a.momentum);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    b[i] = lerp<SmallKeep>(b[i], g[i], keep);
    u[i] = Nesterov ? lerp<SmallMomentum>(g[i], b[i], mu) : b[i];
  }
}

template <typename T>
void muon_momentum(const Batch<T>& batch, const MuonMomentumArgs& a) {
  with_flags([&](auto nesterov, auto small_keep, auto small_momentum) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      muon_momentum_loop<nesterov, small_keep, small_momentum>(
          array_at(batch, i, 0, begin), array_at(batch, i, 1, begin), array_at(batch, i, 2, begin), n, a);
    });
  }, a.nesterov, std::fabs(1 - a.momentum) < 0.5, std::fabs(a.momentum) < 0.5);
}

// ---- muon_update: θ ← θ(1 − lr·λ);  θ ← θ − adjusted_lr·O --------------------------------------------
template <typename T>
void muon_update_loop(T* __restrict p, const T* __restrict o, int64_t n, const MuonUpdateArgs& a) {
  const T decay = T(1 - a.lr * a.weight_decay), neg_lr = T(-a.adjusted_lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    p[i] = p[i] * decay;
    p[i] = p[i] + neg_lr * o[i];
  }
}

template <typename T>
void muon_update(const Batch<T>& batch, const MuonUpdateArgs& a) {
  for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
    muon_update_loop(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin), n, a);
  });
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
