// The interface between the bindings and the optimizer kernels: plain structs and function
// pointers, no templates with code, so that kernels compiled for different instruction sets
// (csrc/kernel_table.cpp, built once per ISA) can sit side by side in one extension.
#pragma once
#include <atomic>
#include <cstdint>

namespace minigrad {

// A multi-tensor batch: `count` tensors, each with `arity` arrays of `numel` elements
// (array k of tensor i at arrays[i * arity + k]; an absent optional state is nullptr).
// rows/cols: each tensor's last two dimensions (a tensor of fewer than two is 1 × numel), for the
// kernels that reduce along them (Adafactor's factored state has numel / cols and numel / rows elements).
template <typename T>
struct Batch {
  T* const* arrays;
  const int64_t* numel;
  int64_t count;
  int arity;
  const int64_t* rows = nullptr;
  const int64_t* cols = nullptr;
};

// Below this many elements per thread, waking a second thread costs more than it saves
// (ATen uses the same grain). The driver (driver.h) splits calls by it; build_info() reports it.
constexpr int64_t kGrain = 32768;

// How the kernels choose between the calling thread alone and a team of threads
// (driver.h, "the thread policy"): measured per call size, or always the team above the grain.
enum class ThreadPolicy : int { adaptive, fixed };
extern std::atomic<ThreadPolicy> thread_policy;  // defined in bindings.cpp; set_thread_policy()
extern std::atomic<int> num_threads;  // the most threads a kernel call uses: set_num_threads(), process-wide

// Hyperparameters as the kernels see them: per-step scalar math is done by the caller in
// float64 (bias corrections, decayed learning rate) and cast to the element type inside.
// Above each, the kernel's arrays in the order of its Batch.
// param, grad, momentum_buffer
struct SgdArgs { double lr, weight_decay, momentum, dampening; bool nesterov, maximize, first_step; };
// param, grad, sum
struct AdagradArgs { double clr, weight_decay, eps; bool maximize; };
// param, grad, square_avg, acc_delta
struct AdadeltaArgs { double lr, rho, eps, weight_decay; bool maximize; };
// param, grad, square_avg, grad_avg, momentum_buffer
struct RmspropArgs { double lr, alpha, eps, weight_decay, momentum; bool centered, maximize; };
// param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq
struct AdamArgs {
  double lr, beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt;
  bool amsgrad, maximize, decoupled_weight_decay;
};
// x, y (x += alpha * y: the bandwidth reference)
struct AxpyArgs { double alpha; };
// param, grad, exp_avg, exp_inf
struct AdamaxArgs { double beta1, beta2, eps, weight_decay, step_size; bool maximize; };
// param, grad, exp_avg, exp_avg_sq
struct NadamArgs {
  double lr, beta1, beta2, eps, weight_decay, bias_correction2, grad_step_size, exp_avg_step_size;
  bool maximize, decoupled_weight_decay;
};
// param, grad, exp_avg, exp_avg_sq
struct RadamArgs {
  double lr, beta1, beta2, eps, weight_decay, bias_correction1, bias_correction2_sqrt, rect;
  bool rectified, maximize, decoupled_weight_decay;
};
// param, grad, ax (eta and mu: this step's, from the parameter's state)
struct AsgdArgs { double eta, lambd, mu, weight_decay; bool maximize; };
// param, grad, prev, step_size
struct RpropArgs { double etaminus, etaplus, step_size_min, step_size_max; bool maximize; };
// param, grad, exp_avg
struct LionArgs { double lr, beta1, beta2, weight_decay; bool maximize; };
// param, exp_avg, exp_avg_sq (n × width each), values (k × width): the gradient's rows, numel k·width.
// rows[i] (k int64, strictly increasing) and widths[i] are set by the binding, not by keywords.
struct SparseAdamArgs {
  double beta1, beta2, eps, step_size;
  bool maximize;
  const int64_t* const* rows;
  const int64_t* widths;
};
// param, grad, row_var, col_var (factored: ≥ 2-D params), variance (< 2-D params); the absent ones nullptr.
// rho = min(lr, 1/√t) and one_minus_beta2 = t^beta2_decay are the caller's; alpha and the update's RMS are
// reductions inside the kernel.
struct AdafactorArgs { double lr, weight_decay, eps1, eps2, d, rho, one_minus_beta2; bool maximize; };
// grad, momentum_buffer, update (the matrix Newton–Schulz orthogonalises next)
struct MuonMomentumArgs { double momentum; bool nesterov; };
// param, ortho (Newton–Schulz's output)
struct MuonUpdateArgs { double lr, weight_decay, adjusted_lr; };
// y (the param), grad, z, exp_avg_sq
struct SchedulefreeAdamwArgs { double lr, ckp1, y_step, beta2, eps, weight_decay, bias_correction2; };
// y (the param), grad, z
struct SchedulefreeSgdArgs { double lr, ckp1, y_step, weight_decay; };
// starts, ends (start = lerp(start, end, weight))
struct LerpArgs { double weight; };
// means, values (mean += (value - mean) / count)
struct RunningMeanArgs { double count; };

// Every kernel, once: its name (the function template in csrc/optim/<name>.h, the KernelsOf member,
// the Python function in bindings.cpp) and its Args. The kernel table of each instruction set and
// KernelsOf are generated from this list. A new optimizer is its header under csrc/optim/ (included
// by kernel_table.cpp), its Args above and its line here, its binding, its NumPy twin and its class.
#define MINIGRAD_KERNELS(X) \
  X(sgd, SgdArgs)           \
  X(adagrad, AdagradArgs)   \
  X(adadelta, AdadeltaArgs) \
  X(rmsprop, RmspropArgs)   \
  X(adam, AdamArgs)         \
  X(axpy, AxpyArgs)         \
  X(adamax, AdamaxArgs)     \
  X(nadam, NadamArgs)       \
  X(radam, RadamArgs)       \
  X(asgd, AsgdArgs)         \
  X(rprop, RpropArgs)       \
  X(lion, LionArgs)         \
  X(sparse_adam, SparseAdamArgs) \
  X(adafactor, AdafactorArgs) \
  X(muon_momentum, MuonMomentumArgs) \
  X(muon_update, MuonUpdateArgs) \
  X(schedulefree_adamw, SchedulefreeAdamwArgs)      \
  X(schedulefree_sgd, SchedulefreeSgdArgs)          \
  X(lerp, LerpArgs)                                 \
  X(running_mean, RunningMeanArgs)

// One function pointer per kernel: void (*sgd)(const Batch<T>&, const SgdArgs&), ...
template <typename T>
struct KernelsOf {
#define MINIGRAD_KERNEL_POINTER(name, Args) void (*name)(const Batch<T>&, const Args&);
  MINIGRAD_KERNELS(MINIGRAD_KERNEL_POINTER)
#undef MINIGRAD_KERNEL_POINTER
};

struct KernelTable {
  const char* isa;
  KernelsOf<float> f32;
  KernelsOf<double> f64;
};

// One table per compiled instruction set; each is defined in its own build of kernel_table.cpp.
namespace baseline { const KernelTable& kernel_table(); }
namespace avx2 { const KernelTable& kernel_table(); }
namespace avx512 { const KernelTable& kernel_table(); }
namespace native { const KernelTable& kernel_table(); }

}  // namespace minigrad
