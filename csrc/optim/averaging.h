// Weight averaging: the in-place updates of minigrad.optim.swa_utils.AveragedModel (EMA and SWA)
// and the train()/eval() switch of the Schedule-Free optimizers (csrc/optim/schedulefree.h).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/averaging.py.
#pragma once
#include <cmath>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- lerp: s ← lerp(s, e, w), torch.lerp's formulas (driver.h). EMA: w = 1 − decay; Schedule-Free:
//        y ← lerp(x, z, 1 − β) and x ← lerp(y, z, 1 − 1/β) ---------------------------------------------
template <typename T>
void lerp(const Batch<T>& batch, const LerpArgs& a) {
  const T w = T(a.weight);
  with_flags([&](auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      T* __restrict s = array_at(batch, i, 0, begin);
      const T* __restrict e = array_at(batch, i, 1, begin);
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) s[j] = lerp<small>(s[j], e[j], w);
    });
  }, std::fabs(a.weight) < 0.5);
}

// ---- running_mean: m ← m + (x − m) / count, the equal-weight average of `count` values (SWA) ----------
template <typename T>
void running_mean(const Batch<T>& batch, const RunningMeanArgs& a) {
  const T count = T(a.count);
  for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
    T* __restrict m = array_at(batch, i, 0, begin);
    const T* __restrict x = array_at(batch, i, 1, begin);
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) m[j] = m[j] + (x[j] - m[j]) / count;
  });
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
