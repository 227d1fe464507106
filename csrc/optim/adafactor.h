// Adafactor (torch.optim.Adafactor). Unlike the other kernels, a tensor's update needs reductions
// over the tensor: RMS(θ) (the step scale α), for a ≥ 2-D tensor the row and column means of g² over
// its last two dims (the factored second moment, batched over the leading dims), and RMS(U) (update
// clipping). So one call runs in phases inside one OpenMP region, each a parallel loop over work
// items that the shapes alone fix (never the thread count):
//   A  blocks of whole rows: Σθ² partial, row means of g² → row_var; strips of columns: column means
//      of g² → col_var; blocks of a vector: Σθ² partial, variance lerp, ΣU² partial. A block or a strip
//      spans as many of a tensor's matrices as fit in kAdafactorBlock elements (a conv weight is
//      thousands of 3×3 matrices: one work item each would cost more than the arithmetic)
//   B  each matrix: V̂'s divisor max(mean(row_var), eps1)
//   C  blocks of rows: ΣU² partial
//   D  each tensor: α = max(eps2, RMS(θ))·ρ and the clipping divisor max(1, RMS(U)/d)
//   E  every block: θ ← θ(1 − lr·λ);  θ ← θ − α/divisor·U  (U recomputed, not stored)
// Every sum is accumulated in double in a fixed order (kLanes running sums combined in order, blocks
// combined in order), so the results are bitwise identical for any thread count and SIMD level. Whether
// a call runs on the team or alone is the driver's thread policy, as for the elementwise kernels.
// A tensor with no elements is left as it is (torch divides by its zero size and raises).
// Compiled inside kernel_table.cpp, once per instruction set (csrc/driver.h); the NumPy twin is in
// minigrad/optim/kernels_numpy/adafactor.py.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "../driver.h"

namespace minigrad {
namespace MINIGRAD_ISA {
namespace {

constexpr int64_t kAdafactorBlock = 16384;  // elements per block (whole rows: at least one row)
constexpr int64_t kAdafactorStrip = 256;    // columns per column-sum strip
constexpr int kLanes = 8;

// Σ f(j)² for j < n, in double: kLanes running sums (vectorisable without reordering), combined in order.
template <typename F>
double sum_squares(int64_t n, const F& f) {
  double lane[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
#pragma omp simd
    for (int k = 0; k < kLanes; ++k) {
      const double x = f(j + k);
      lane[k] += x * x;
    }
  }
  double sum = 0;
  for (int k = 0; k < kLanes; ++k) sum += lane[k];
  for (; j < n; ++j) {
    const double x = f(j);
    sum += x * x;
  }
  return sum;
}

// torch's (‖x‖₂ rounded to T)² / count: the mean of squares as torch's norm(...).square_().div_(count) gives it.
template <typename T>
T mean_of_squares(double sum, int64_t count) {
  const T norm = T(std::sqrt(sum));
  return norm * norm / T(count);
}

template <typename T>
struct AdafactorTensor {
  T *p, *row, *col, *v;  // row/col: factored (≥ 2-D); v: a vector's second moment; the others nullptr
  const T* g;
  int64_t numel, rows, cols, first_matrix;  // rows × cols: the last two dims (a vector: 1 × numel)
  double theta_sq = 0, u_sq = 0;             // Σθ², ΣU² (phase D sums the blocks' partials into them)
  T scale = 0;                               // −α / clipping divisor
};

struct AdafactorBlock { int64_t tensor, begin, end; double theta_sq, u_sq; };  // elements [begin, end)
struct AdafactorStrip { int64_t tensor, m0, m1, c0, c1; };  // columns [c0, c1) of matrices [m0, m1)

template <bool SmallWeight, typename T>
void adafactor_phases(const Batch<T>& batch, const AdafactorArgs& a) {
  const T sign = a.maximize ? T(-1) : T(1), w = T(a.one_minus_beta2), eps1 = T(a.eps1),
          eps1_sq = T(a.eps1 * a.eps1), decay = T(a.weight_decay != 0 ? 1 - a.lr * a.weight_decay : 1);
  std::vector<AdafactorTensor<T>> tensors;
  std::vector<AdafactorBlock> blocks;
  std::vector<AdafactorStrip> strips;
  std::vector<int64_t> matrix_tensor;  // the tensor of each matrix (its index: first_matrix + m)
  int64_t total = 0;
  for (int64_t i = 0; i < batch.count; ++i) {
    const int64_t n = batch.numel[i], id = static_cast<int64_t>(tensors.size());
    if (n == 0) continue;
    AdafactorTensor<T> t{array_at(batch, i, 0, 0), array_at(batch, i, 2, 0), array_at(batch, i, 3, 0),
                         array_at(batch, i, 4, 0), array_at(batch, i, 1, 0), n, batch.rows[i], batch.cols[i],
                         static_cast<int64_t>(matrix_tensor.size())};
    if (t.row) {  // blocks of whole rows; strips of columns of whole matrices
      const int64_t size = t.rows * t.cols, matrices = n / size;
      const int64_t per_strip = std::max<int64_t>(1, kAdafactorBlock / size),
                    step = std::max<int64_t>(1, kAdafactorBlock / t.cols) * t.cols;
      matrix_tensor.insert(matrix_tensor.end(), matrices, id);
      for (int64_t b = 0; b < n; b += step) blocks.push_back({id, b, std::min(n, b + step), 0, 0});
      for (int64_t m = 0; m < matrices; m += per_strip)
        for (int64_t c = 0; c < t.cols; c += kAdafactorStrip)
          strips.push_back({id, m, std::min(matrices, m + per_strip), c, std::min(t.cols, c + kAdafactorStrip)});
    } else {
      for (int64_t b = 0; b < n; b += kAdafactorBlock)
        blocks.push_back({id, b, std::min(n, b + kAdafactorBlock), 0, 0});
    }
    tensors.push_back(t);
    total += n;
  }
  std::vector<T> divisors(matrix_tensor.size());
  const int64_t nblocks = static_cast<int64_t>(blocks.size()), nstrips = static_cast<int64_t>(strips.size()),
                nmatrices = static_cast<int64_t>(matrix_tensor.size()), ntensors = static_cast<int64_t>(tensors.size());
  // On the team or alone as the driver's thread policy says (for_each_range): the work items are the same
  // either way, so the results are too.
  const int wanted = threads_for(total);  // read once: set_num_threads may run meanwhile (no GIL here)
  int threads = wanted;
  static ThreadChoice choices[64];  // one per size class, for this instantiation
  ThreadChoice& choice = choices[size_class(total)];
  const bool team = threads > 1 && choice.use_team(threads);
  if (!team) threads = 1;
  const auto started = std::chrono::steady_clock::now();

  // U = g / max(√V̂, eps1) from the updated second moment V̂ (torch: clamp V̂ at eps1², rsqrt, times g)
  auto update = [=](T v, T g) {
    v = v < eps1_sq ? eps1_sq : v;  // clamp; NaN stays NaN
    return T(1) / std::sqrt(v) * (sign * g);
  };
  // f(e, U[e]) for the elements [begin, end) of tensor t (a factored block: whole rows)
  auto each_update = [&](const AdafactorTensor<T>& t, int64_t begin, int64_t end, auto&& f) {
    if (!t.row) {
      for (int64_t e = begin; e < end; ++e) f(e, update(t.v[e], t.g[e]));
      return;
    }
    for (int64_t r = begin / t.cols; r < end / t.cols; ++r) {
      const int64_t m = r / t.rows;
      const T divisor = divisors[t.first_matrix + m], rv = t.row[r];
      const T *col = t.col + m * t.cols, *g = t.g + r * t.cols;
#pragma omp simd
      for (int64_t c = 0; c < t.cols; ++c) f(r * t.cols + c, update(rv * col[c] / divisor, g[c]));
    }
  };
  // ΣU² over [begin, end) of tensor t: a vector's block in kLanes sums, a factored block row by row
  auto update_sq = [&](const AdafactorTensor<T>& t, int64_t begin, int64_t end) {
    if (!t.row)
      return sum_squares(end - begin, [&](int64_t j) { return double(update(t.v[begin + j], t.g[begin + j])); });
    double sum = 0;
    for (int64_t r = begin / t.cols; r < end / t.cols; ++r) {
      const int64_t m = r / t.rows;
      const T divisor = divisors[t.first_matrix + m], rv = t.row[r];
      const T *col = t.col + m * t.cols, *g = t.g + r * t.cols;
      sum += sum_squares(t.cols, [&](int64_t c) { return double(update(rv * col[c] / divisor, g[c])); });
    }
    return sum;
  };

#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    // A: the blocks, then the strips, as one list of work items
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < nblocks + nstrips; ++k) {
      if (k < nblocks) {
        AdafactorBlock& b = blocks[k];
        const AdafactorTensor<T>& t = tensors[b.tensor];
        b.theta_sq = sum_squares(b.end - b.begin, [&](int64_t j) { return double(t.p[b.begin + j]); });
        if (t.row) {
          for (int64_t r = b.begin / t.cols; r < b.end / t.cols; ++r) {
            const T* g = t.g + r * t.cols;
            const double sum = sum_squares(t.cols, [&](int64_t j) { return double(g[j]); });
            t.row[r] = lerp<SmallWeight>(t.row[r], mean_of_squares<T>(sum, t.cols), w);
          }
        } else {
          for (int64_t e = b.begin; e < b.end; ++e) t.v[e] = lerp<SmallWeight>(t.v[e], t.g[e] * t.g[e], w);
          b.u_sq = update_sq(t, b.begin, b.end);
        }
      } else {
        const AdafactorStrip& s = strips[k - nblocks];
        const AdafactorTensor<T>& t = tensors[s.tensor];
        const int64_t width = s.c1 - s.c0;
        for (int64_t m = s.m0; m < s.m1; ++m) {
          double sums[kAdafactorStrip];
          std::fill(sums, sums + width, 0.0);
          for (int64_t r = 0; r < t.rows; ++r) {
            const T* g = t.g + (m * t.rows + r) * t.cols + s.c0;
#pragma omp simd
            for (int64_t c = 0; c < width; ++c) sums[c] += double(g[c]) * double(g[c]);
          }
          T* col = t.col + m * t.cols + s.c0;
          for (int64_t c = 0; c < width; ++c)
            col[c] = lerp<SmallWeight>(col[c], mean_of_squares<T>(sums[c], t.rows), w);
        }
      }
    }
    // B: each matrix's divisor max(mean(row_var), eps1)
#pragma omp for schedule(static)
    for (int64_t m = 0; m < nmatrices; ++m) {
      const AdafactorTensor<T>& t = tensors[matrix_tensor[m]];
      const T* row = t.row + (m - t.first_matrix) * t.rows;
      double sum = 0;
      for (int64_t r = 0; r < t.rows; ++r) sum += double(row[r]);
      const T mean = T(sum / double(t.rows));
      divisors[m] = mean < eps1 ? eps1 : mean;
    }
    // C: ΣU² of the factored blocks
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < nblocks; ++k) {
      AdafactorBlock& b = blocks[k];
      const AdafactorTensor<T>& t = tensors[b.tensor];
      if (t.row) b.u_sq = update_sq(t, b.begin, b.end);
    }
    // D: per tensor, the blocks' partial sums in order; α (from θ before weight decay) and the clip
#pragma omp single
    {
      for (const AdafactorBlock& b : blocks) tensors[b.tensor].theta_sq += b.theta_sq, tensors[b.tensor].u_sq += b.u_sq;
      for (int64_t i = 0; i < ntensors; ++i) {
        AdafactorTensor<T>& t = tensors[i];
        const double root_n = std::sqrt(double(t.numel));
        const double alpha = std::max(a.eps2, double(T(std::sqrt(t.theta_sq))) / root_n) * a.rho;  // Python's max
        const double clip = std::max(1.0, double(T(std::sqrt(t.u_sq))) / (root_n * a.d));
        t.scale = T(-alpha / clip);
      }
    }
    // E: θ ← θ(1 − lr·λ) + scale·U
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < nblocks; ++k) {
      const AdafactorBlock& b = blocks[k];
      const AdafactorTensor<T>& t = tensors[b.tensor];
      T* __restrict p = t.p;
      const T scale = t.scale;
      each_update(t, b.begin, b.end, [&](int64_t e, T u) {
        p[e] = p[e] * decay;
        p[e] = p[e] + scale * u;
      });
    }
  }
  if (wanted > 1)
    choice.record(team, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

template <typename T>
void adafactor(const Batch<T>& batch, const AdafactorArgs& a) {
  with_flags([&](auto small) { adafactor_phases<small>(batch, a); }, std::fabs(a.one_minus_beta2) < 0.5);
}

}  // namespace
}  // namespace MINIGRAD_ISA
}  // namespace minigrad
