// Compiled once per instruction set (CMakeLists.txt sets MINIGRAD_ISA and the -m flags): fills
// that ISA's table of kernels. Everything from driver.h and csrc/optim/ has internal linkage here,
// so the AVX-512 build of a loop can never be picked by the linker for the baseline path.
#include "kernel_table.h"
#include "optim/adadelta.h"
#include "optim/adagrad.h"
#include "optim/adam.h"
#include "optim/axpy.h"
#include "optim/rmsprop.h"
#include "optim/sgd.h"
#include "optim/adamax.h"
#include "optim/nadam.h"
#include "optim/radam.h"
#include "optim/asgd.h"
#include "optim/rprop.h"
#include "optim/lion.h"
#include "optim/sparse_adam.h"
#include "optim/adafactor.h"
#include "optim/muon.h"
#include "optim/schedulefree.h"
#include "optim/averaging.h"

namespace minigrad {
namespace MINIGRAD_ISA {

// {sgd<T>, adagrad<T>, ...}: the members of KernelsOf, in the order MINIGRAD_KERNELS declares them.
template <typename T>
static constexpr KernelsOf<T> kernels_of() {
#define MINIGRAD_KERNEL_OF(name, Args) name<T>,
  return {MINIGRAD_KERNELS(MINIGRAD_KERNEL_OF)};
#undef MINIGRAD_KERNEL_OF
}

#define MINIGRAD_STR2(x) #x
#define MINIGRAD_STR(x) MINIGRAD_STR2(x)

const KernelTable& kernel_table() {
  static const KernelTable table{MINIGRAD_STR(MINIGRAD_ISA), kernels_of<float>(), kernels_of<double>()};
  return table;
}

}  // namespace MINIGRAD_ISA
}  // namespace minigrad
