// axpy: not an optimizer, the in-place stream the benchmarks measure the optimizers against.
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/axpy.py.
#pragma once
#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- x ← x + α·y: an in-place read-modify-write stream, the bandwidth reference for benchmarks ----
template <typename T>
void axpy(const Batch<T>& batch, const AxpyArgs& args) {
  const T a = T(args.alpha);
  for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
    T* __restrict x = array_at(batch, i, 0, begin);
    const T* __restrict y = array_at(batch, i, 1, begin);
#pragma omp simd
    for (int64_t j = 0; j < n; ++j) x[j] = x[j] + a * y[j];
  });
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
