// SparseAdam (torch.optim.SparseAdam): Adam on the rows of a row-sparse gradient only.
//
// The gradient of nn.Embedding(sparse=True) names a few rows of a large table; only those rows of
// the parameter and of its two moments move (torch's masked approximation of Adam: untouched rows
// keep their moments as they were, with no decay). The caller coalesces the gradient (each row once,
// sorted, duplicate rows summed) and passes its rows and values; the Batch's arrays per tensor are
// param, exp_avg, exp_avg_sq (the dense (n, width) tables) and values (k, width), its numel the
// values' size, so the driver splits the work over the gradient's elements (whole rows or pieces of
// them: each element is independent, so any split gives the same bits). The row of value element
// j is rows[j / width]. Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h);
// the NumPy twin is in minigrad/optim/kernels_numpy/sparse_adam.py.
#pragma once
#include <algorithm>
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- on each gradient element d (−g if maximize), in torch's order:
//      Δm = (d − m)(1 − β1);  m ← m + Δm;  Δv = (d² − v)(1 − β2);  v ← v + Δv;
//      θ ← θ + (−step_size)·((Δm + m_old) / (√(Δv + v_old) + eps)),
//      with step_size = lr·√(1 − β2ᵗ) / (1 − β1ᵗ) computed by the caller ---------------------------------
template <typename T>
void sparse_adam_loop(T* __restrict p, T* __restrict m, T* __restrict v, const T* __restrict g, int64_t n,
                      const SparseAdamArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), one_minus_beta1 = T(1 - a.beta1), one_minus_beta2 = T(1 - a.beta2),
          eps = T(a.eps), neg_step_size = T(-a.step_size);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    const T d = sign * g[i], m_old = m[i], v_old = v[i];
    const T m_change = (d - m_old) * one_minus_beta1;
    const T v_change = (d * d - v_old) * one_minus_beta2;
    m[i] = m_old + m_change;
    v[i] = v_old + v_change;
    p[i] = p[i] + neg_step_size * ((m_change + m_old) / (std::sqrt(v_change + v_old) + eps));
  }
}

template <typename T>
void sparse_adam(const Batch<T>& batch, const SparseAdamArgs& a) {
  for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
    T* const* arrays = batch.arrays + i * batch.arity;  // param, exp_avg, exp_avg_sq, values
    const int64_t width = a.widths[i];
    const int64_t* rows = a.rows[i];
    for (int64_t j = begin, end = begin + n; j < end;) {  // the piece [begin, end) row by row
      const int64_t r = j / width, column = j - r * width, count = std::min(end - j, width - column);
      const int64_t at = rows[r] * width + column;
      sparse_adam_loop(arrays[0] + at, arrays[1] + at, arrays[2] + at, arrays[3] + j, count, a);
      j += count;
    }
  });
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
