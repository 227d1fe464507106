// The optimizer updates of torch.optim (../shared/SEMANTICS.md), one fused pass over memory per
// step, for float and double. Pure C++: no Python here (bindings.cpp does the checking).
//
// Each optimizer is two pieces:
//   *_loop   the element loop over one contiguous range, written in torch's order of operations
//            (so float64 agrees with torch to the last bits wherever torch does not fuse);
//   the multi-tensor entry point, which runs that loop over a whole param group in ONE OpenMP
//            region (for_each_range below).
// Options that change the loop's shape are template parameters (picked once per call by
// with_flags), so every instantiated loop is branch-free and vectorises; `maximize` is a sign.
//
// The NumPy twin of every kernel is minigrad/optim/kernels_numpy.py.
//
// This header is compiled once per instruction set (kernel_table.cpp), so everything is in that
// ISA's namespace and an anonymous one: no symbol may be shared between the builds.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernel_table.h"

#ifndef MINIGRAD_ISA
#define MINIGRAD_ISA generic
#endif

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

// ---- the multi-tensor driver ------------------------------------------------------------------

// Below this many elements per thread, waking a second thread costs more than it saves
// (ATen uses the same grain).
constexpr int64_t kGrain = 32768;

inline int threads_for(int64_t total) {
#ifdef _OPENMP
  int64_t wanted = total / kGrain;
  int64_t available = omp_get_max_threads();
  return static_cast<int>(wanted < 1 ? 1 : (wanted < available ? wanted : available));
#else
  (void)total;
  return 1;
#endif
}

// Thread t of n takes elements [split(t), split(t + 1)) of the tensors laid end to end; inner
// boundaries fall on multiples of 16 elements (whole cache lines for float).
inline int64_t split(int64_t total, int t, int n) {
  return t == n ? total : (total * t / n) & ~int64_t(15);
}

// Calls body(tensor, begin, count) over every element of the batch exactly once: one parallel
// region for the whole batch, each thread on one equal contiguous share, which may span the end
// of one tensor and the start of the next (so hundreds of small tensors balance as well as one
// large one).
template <typename T, typename Body>
void for_each_range(const Batch<T>& batch, Body body) {
  int64_t total = 0;
  for (int64_t i = 0; i < batch.count; ++i) total += batch.numel[i];
  int threads = threads_for(total);
  if (threads == 1) {
    for (int64_t i = 0; i < batch.count; ++i)
      if (batch.numel[i] > 0) body(i, 0, batch.numel[i]);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
  {
    const int n = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t lo = split(total, t, n);
    const int64_t hi = split(total, t + 1, n);
    int64_t i = 0, start = 0;  // tensor i covers [start, start + numel[i])
    while (lo < hi && start + batch.numel[i] <= lo) start += batch.numel[i++];
    while (lo < hi) {
      const int64_t end = hi < start + batch.numel[i] ? hi : start + batch.numel[i];
      body(i, lo - start, end - lo);
      lo = end;
      start += batch.numel[i++];
    }
  }
#endif
}

// Array k of tensor i, offset to `begin` (nullptr stays nullptr: absent optional state).
template <typename T>
inline T* array_at(const Batch<T>& batch, int64_t i, int k, int64_t begin) {
  T* base = batch.arrays[i * batch.arity + k];
  return base ? base + begin : nullptr;
}

// with_flags(f, a, b) calls f(std::bool_constant<a>, std::bool_constant<b>).
template <typename F>
void with_flags(F&& f) { f(); }
template <typename F, typename... Rest>
void with_flags(F&& f, bool flag, Rest... rest) {
  if (flag)
    with_flags([&](auto... more) { f(std::true_type{}, more...); }, rest...);
  else
    with_flags([&](auto... more) { f(std::false_type{}, more...); }, rest...);
}

// torch.lerp's two formulas, chosen by the (loop-invariant) weight: start + w·(end − start)
// for |w| < 0.5, else end − (end − start)·(1 − w).
template <bool SmallWeight, typename T>
inline T lerp(T start, T end, T w) {
  return SmallWeight ? start + w * (end - start) : end - (end - start) * (T(1) - w);
}

// ---- SGD: b ← μ·b + (1 − dampening)·g (b ← g on the first step); g ← g + μ·b (nesterov) or b;
//           θ ← θ − lr·g --------------------------------------------------------------------------
template <bool L2, bool Momentum, bool FirstStep, bool Nesterov, typename T>
void sgd_loop(T* __restrict p, const T* __restrict g, T* __restrict b, int64_t n, const SgdArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay), mu = T(a.momentum),
          keep = T(1 - a.dampening), neg_lr = T(-a.lr);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    if (L2) d = d + wd * p[i];
    if (Momentum) {
      b[i] = FirstStep ? d : b[i] * mu + keep * d;
      d = Nesterov ? d + mu * b[i] : b[i];
    }
    p[i] = p[i] + neg_lr * d;
  }
}

template <typename T>
void sgd(const Batch<T>& batch, const SgdArgs& a) {
  with_flags([&](auto l2, auto momentum, auto first, auto nesterov) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      sgd_loop<l2, momentum, first, nesterov>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                              array_at(batch, i, 2, begin), n, a);
    });
  }, a.weight_decay != 0, a.momentum != 0, a.first_step, a.nesterov);
}

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

// ---- RMSprop: v ← αv + (1−α)g²;  centered: ḡ ← lerp(ḡ, g, 1−α), avg ← √(v − ḡ²) else √v;
//               avg ← avg + eps;  momentum: b ← μb + g/avg, θ ← θ − lr·b;  else θ ← θ − lr·g/avg -----
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
      avg = std::sqrt(v[i] - gavg[i] * gavg[i]);
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

// ---- Adam: θ ← θ(1 − lr·λ) if decoupled, else g ← g + λθ;  m ← lerp(m, g, 1−β1);
//            v ← β2·v + (1−β2)g²;  amsgrad: v̂ ← max(v̂, v);  θ ← θ − step_size·m / (√v / √bc2 + eps),
//            with step_size = lr / (1 − β1ᵗ) and √bc2 = √(1 − β2ᵗ) computed by the caller -----------
template <bool L2, bool Amsgrad, bool SmallWeight, typename T>
void adam_loop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, T* __restrict vmax,
               int64_t n, const AdamArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), wd = T(a.weight_decay),
          decay = T(a.decoupled_weight_decay ? 1 - a.lr * a.weight_decay : 1),
          one_minus_beta1 = T(1 - a.beta1), beta2 = T(a.beta2), one_minus_beta2 = T(1 - a.beta2),
          bc2_sqrt = T(a.bias_correction2_sqrt), eps = T(a.eps), neg_step_size = T(-a.step_size);
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) {
    T d = sign * g[i];
    p[i] = p[i] * decay;  // exact (×1) unless decoupled weight decay is on
    if (L2) d = d + wd * p[i];
    m[i] = lerp<SmallWeight>(m[i], d, one_minus_beta1);
    v[i] = v[i] * beta2 + one_minus_beta2 * d * d;
    T second = v[i];
    if (Amsgrad) second = vmax[i] = (vmax[i] < v[i] || v[i] != v[i]) ? v[i] : vmax[i];  // NaN-propagating max
    p[i] = p[i] + neg_step_size * m[i] / (std::sqrt(second) / bc2_sqrt + eps);
  }
}

template <typename T>
void adam(const Batch<T>& batch, const AdamArgs& a) {
  with_flags([&](auto l2, auto amsgrad, auto small) {
    for_each_range(batch, [&](int64_t i, int64_t begin, int64_t n) {
      adam_loop<l2, amsgrad, small>(array_at(batch, i, 0, begin), array_at(batch, i, 1, begin),
                                    array_at(batch, i, 2, begin), array_at(batch, i, 3, begin),
                                    array_at(batch, i, 4, begin), n, a);
    });
  }, a.weight_decay != 0 && !a.decoupled_weight_decay, a.amsgrad, std::fabs(1 - a.beta1) < 0.5);
}

// ---- x ← x + α·y: an in-place read-modify-write stream, the bandwidth reference for benchmarks ----
template <typename T>
void axpy(const Batch<T>& batch, double alpha) {
  const T a = T(alpha);
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
