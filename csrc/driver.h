// The multi-tensor driver shared by every optimizer kernel (csrc/optim/*.h): how one call runs a
// loop over a whole param group, for float and double. Pure C++: no Python here (bindings.cpp does
// the checking).
//
// Each optimizer (one header under csrc/optim/) is two pieces:
//   *_loop   the element loop over one contiguous range, written in torch's order of operations
//            (so float64 agrees with torch to the last bits wherever torch does not fuse);
//   the multi-tensor entry point, which runs that loop over a whole param group in ONE OpenMP
//            region (for_each_range below).
// Options that change the loop's shape are template parameters (picked once per call by
// with_flags), so every instantiated loop is branch-free and vectorises; `maximize` is a sign.
//
// The NumPy twin of every kernel is in minigrad/optim/kernels_numpy/, a module per header.
//
// This header and the kernels' are compiled once per instruction set (kernel_table.cpp), so
// everything in them is in that ISA's namespace and an anonymous one: no symbol may be shared
// between the builds.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>
#include <vector>
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

// How many threads a call of `total` elements may use: one per kGrain elements (kernel_table.h).
inline int threads_for(int64_t total) {
#ifdef _OPENMP
  int64_t wanted = total / kGrain;
  int64_t available = num_threads.load(std::memory_order_relaxed);
  return static_cast<int>(wanted < 1 ? 1 : (wanted < available ? wanted : available));
#else
  (void)total;
  return 1;
#endif
}

// ---- the thread policy ---------------------------------------------------------------------------
// Whether a call runs faster on a team of threads or on the calling thread alone is a property of
// the machine at that moment, not of the code. In isolation on hot buffers the team wins above the
// grain. Inside a training loop it often loses: workers that fell asleep during forward/backward
// take tens of µs to wake, and when another process holds a core, the closing barrier of the
// parallel region waits for a descheduled worker for a scheduler tick (~4 ms, 10-30x the update).
// No environment setting of the OpenMP runtime avoids that barrier, so the driver measures instead.
// For each kernel instantiation and power-of-two size class it keeps the last three times of the
// call run alone and run on the team, runs the one whose median is lower, and now and then runs the
// other, to notice when the machine changes: a probe is allowed once the time spent in the class
// since the last probe, times kProbeShare, covers the probe's expected loss, so probing costs at
// most ~2% over always choosing right. The first six calls of a class alternate. Every loop is
// elementwise, so results are bitwise identical whichever way a call runs and the choice is free
// to change at any call. set_thread_policy("fixed") always uses the team above the grain.
constexpr double kProbeShare = 0.02;
constexpr int kSamples = 3;

class ThreadChoice {
 public:
  // True: run this call on the team of `threads`; false: on the calling thread alone.
  bool use_team(int threads) {
    if (thread_policy.load(std::memory_order_relaxed) != ThreadPolicy::adaptive) return true;
    if (threads_.exchange(threads, std::memory_order_relaxed) != threads) {  // a new team size: start over
      for (Arm& arm : arms_) arm.count.store(0, std::memory_order_relaxed);
    }
    const int alone_n = arms_[0].count.load(std::memory_order_relaxed);
    const int team_n = arms_[1].count.load(std::memory_order_relaxed);
    if (alone_n < kSamples || team_n < kSamples) return team_n <= alone_n;  // exploring: alternate
    const double alone = arms_[0].median(), team = arms_[1].median();
    const bool best_is_team = team < alone;
    const double probe_loss = best_is_team ? alone - team : team - alone;
    if (since_probe_.load(std::memory_order_relaxed) * kProbeShare >= probe_loss) {
      since_probe_.store(0, std::memory_order_relaxed);
      return !best_is_team;
    }
    return best_is_team;
  }

  void record(bool team, double seconds) {
    arms_[team].add(static_cast<float>(seconds));
    since_probe_.store(since_probe_.load(std::memory_order_relaxed) + seconds, std::memory_order_relaxed);
  }

 private:
  struct Arm {  // the last kSamples times of one way of running; relaxed atomics: racing Python
                // threads may lose a sample, never corrupt one
    std::atomic<float> seconds[kSamples];
    std::atomic<int> count, next;
    void add(float s) {
      const int slot = next.load(std::memory_order_relaxed);
      seconds[slot].store(s, std::memory_order_relaxed);
      next.store((slot + 1) % kSamples, std::memory_order_relaxed);
      const int n = count.load(std::memory_order_relaxed);
      if (n < kSamples) count.store(n + 1, std::memory_order_relaxed);
    }
    double median() const {
      float a = seconds[0].load(std::memory_order_relaxed), b = seconds[1].load(std::memory_order_relaxed),
            c = seconds[2].load(std::memory_order_relaxed);
      return std::max(std::min(a, b), std::min(std::max(a, b), c));
    }
  };
  Arm arms_[2];  // [0]: alone, [1]: team
  std::atomic<double> since_probe_;
  std::atomic<int> threads_;
};

inline int size_class(int64_t total) {
  int c = 0;
  while (total >>= 1) ++c;
  return c;
}

// The team's share of the work: the tensors laid end to end, cut into kChunksPerThread pieces per
// thread (multiples of 16 elements, whole cache lines for float; at least kMinChunk, so claiming a
// piece costs well under 1% of updating it) that the threads claim in turn, the calling thread
// included, so a worker that starts late leaves its pieces to the others.
constexpr int64_t kChunksPerThread = 8;
constexpr int64_t kMinChunk = 8192;

template <typename T, typename Body>
void run_on_team(const Batch<T>& batch, int64_t total, int threads, const Body& body) {
#ifdef _OPENMP
  std::vector<int64_t> start(batch.count + 1, 0);  // tensor i covers [start[i], start[i + 1])
  for (int64_t i = 0; i < batch.count; ++i) start[i + 1] = start[i] + batch.numel[i];
  int64_t chunk = std::max(kMinChunk, (total + threads * kChunksPerThread - 1) / (threads * kChunksPerThread));
  chunk = (chunk + 15) & ~int64_t(15);
  const int64_t chunks = (total + chunk - 1) / chunk;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t lo = c * chunk;
    const int64_t hi = std::min(total, lo + chunk);
    int64_t i = std::upper_bound(start.begin(), start.end(), lo) - start.begin() - 1;
    for (; lo < hi; ++i) {
      const int64_t end = std::min(hi, start[i + 1]);
      if (end > lo) body(i, lo - start[i], end - lo);
      lo = end;
    }
  }
#else
  (void)batch, (void)total, (void)threads, (void)body;
#endif
}

// Calls body(tensor, begin, count) over every element of the batch exactly once, on the calling
// thread or on a team (the thread policy above), with the work spanning tensor boundaries (so
// hundreds of small tensors balance as well as one large one).
template <typename T, typename Body>
void for_each_range(const Batch<T>& batch, Body body) {
  int64_t total = 0;
  for (int64_t i = 0; i < batch.count; ++i) total += batch.numel[i];
  const int threads = threads_for(total);
  auto alone = [&] {
    for (int64_t i = 0; i < batch.count; ++i)
      if (batch.numel[i] > 0) body(i, 0, batch.numel[i]);
  };
  if (threads == 1) return alone();
  static ThreadChoice choices[64];  // one per size class, for this kernel instantiation
  ThreadChoice& choice = choices[size_class(total)];
  const bool team = choice.use_team(threads);
  const auto begin = std::chrono::steady_clock::now();
  if (team)
    run_on_team(batch, total, threads, body);
  else
    alone();
  choice.record(team, std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count());
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

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
