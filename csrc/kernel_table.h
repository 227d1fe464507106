// The interface between the bindings and the optimizer kernels: plain structs and function
// pointers, no templates with code, so that kernels compiled for different instruction sets
// (csrc/kernel_table.cpp, built once per ISA) can sit side by side in one extension.
#pragma once
#include <atomic>
#include <cstdint>

namespace minigrad {

// A multi-tensor batch: `count` tensors, each with `arity` arrays of `numel` elements
// (array k of tensor i at arrays[i * arity + k]; an absent optional state is nullptr).
template <typename T>
struct Batch {
  T* const* arrays;
  const int64_t* numel;
  int64_t count;
  int arity;
};

// Hyperparameters as the kernels see them: per-step scalar math is done by the caller in
// float64 (bias corrections, decayed learning rate) and cast to the element type inside.
struct SgdArgs { double lr, weight_decay, momentum, dampening; bool nesterov, maximize, first_step; };
struct AdagradArgs { double clr, weight_decay, eps; bool maximize; };
struct AdadeltaArgs { double lr, rho, eps, weight_decay; bool maximize; };
struct RmspropArgs { double lr, alpha, eps, weight_decay, momentum; bool centered, maximize; };
struct AdamArgs {
  double lr, beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt;
  bool amsgrad, maximize, decoupled_weight_decay;
};

// How the kernels choose between the calling thread alone and a team of threads
// (optim_kernels.h, "the thread policy"): measured per call size, or always the team above the grain.
enum class ThreadPolicy : int { adaptive, fixed };
extern std::atomic<ThreadPolicy> thread_policy;  // defined in bindings.cpp; set_thread_policy()

template <typename T>
struct KernelsOf {
  void (*sgd)(const Batch<T>&, const SgdArgs&);            // param, grad, momentum_buffer
  void (*adagrad)(const Batch<T>&, const AdagradArgs&);    // param, grad, sum
  void (*adadelta)(const Batch<T>&, const AdadeltaArgs&);  // param, grad, square_avg, acc_delta
  void (*rmsprop)(const Batch<T>&, const RmspropArgs&);    // param, grad, square_avg, grad_avg, momentum_buffer
  void (*adam)(const Batch<T>&, const AdamArgs&);          // param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq
  void (*axpy)(const Batch<T>&, double alpha);             // x += alpha * y: the bandwidth reference
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
