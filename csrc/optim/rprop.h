// Rprop, resilient backpropagation (torch.optim.Rprop).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/rprop.py.
#pragma once
#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// torch.sign: −1, 0 or 1, and 0 for NaN (both comparisons are false).
template <typename T>
inline T sign_or_zero(T x) {
  return T(x > 0) - T(x < 0);
}

// ---- Rprop: s = sign(d·prev);  step_size ← clamp(step_size·(etaplus if s > 0, etaminus if s < 0, else 1),
//             step_size_min, step_size_max);  d ← 0 where s < 0;  θ ← θ − sign(d)·step_size;  prev ← d -------
template <typename T>
void rprop_loop(T* __restrict p, const T* __restrict g, T* __restrict prev, T* __restrict step_size, int64_t n,
                const RpropArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), etaminus = T(a.etaminus), etaplus = T(a.etaplus),
          lo = T(a.step_size_min), hi = T(a.step_size_max);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    const T product = d * prev[i];  // its sign is torch's sign(d·prev): a NaN is neither
    const bool same = product > 0, flipped = product < 0;
    // two selects, each comparison made unconditionally: a nested ?: leaves a branch (no SIMD)
    T factor = same ? etaplus : T(1);
    factor = flipped ? etaminus : factor;
    T size = step_size[i] * factor;
    size = size < lo ? lo : size;  // clamp, keeping a NaN
    size = size > hi ? hi : size;
    step_size[i] = size;
    d = flipped ? T(0) : d;
    p[i] = p[i] - sign_or_zero(d) * size;
    prev[i] = d;
  }
}

template <typename T>
void rprop(const Batch<T>& batch, const RpropArgs& a) {
  for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
    rprop_loop(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin), array_at(batch, i, 2, begin),
               array_at(batch, i, 3, begin), n, a);
  });
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
