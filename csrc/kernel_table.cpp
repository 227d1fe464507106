// Compiled once per instruction set (CMakeLists.txt sets MINIGRAD_ISA and the -m flags): fills
// that ISA's table of kernels. Everything from optim_kernels.h has internal linkage here, so the
// AVX-512 build of a loop can never be picked by the linker for the baseline path.
#include "kernel_table.h"
#include "optim_kernels.h"

namespace minigrad {
namespace MINIGRAD_ISA {

template <typename T>
static constexpr KernelsOf<T> kernels_of() {
  return {sgd<T>, adagrad<T>, adadelta<T>, rmsprop<T>, adam<T>, axpy<T>};
}

#define MINIGRAD_STR2(x) #x
#define MINIGRAD_STR(x) MINIGRAD_STR2(x)

const KernelTable& kernel_table() {
  static const KernelTable table{MINIGRAD_STR(MINIGRAD_ISA), kernels_of<float>(), kernels_of<double>()};
  return table;
}

}  // namespace MINIGRAD_ISA
}  // namespace minigrad
