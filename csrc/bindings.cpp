// The one file that knows about Python (with the argument checks it includes, array_checks.h): the
// choice of instruction set, the kernels' Python signatures, and the module minigrad._C.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <iterator>
#include <type_traits>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "array_checks.h"
#include "cpu_features.h"
#include "kernel_table.h"

// The x86 kernel builds exist only for an x86 target (CMakeLists.txt picks them from the target, and
// a universal2 build gets baseline only): never list an ISA whose object was not built for it.
#if (defined(MINIGRAD_HAS_avx2) || defined(MINIGRAD_HAS_avx512)) && !defined(MINIGRAD_X86)
#error "x86 kernel builds (avx2/avx512) in a build for a non-x86 target"
#endif

namespace py = pybind11;
using namespace pybind11::literals;

namespace minigrad {

std::atomic<ThreadPolicy> thread_policy{ThreadPolicy::adaptive};
std::atomic<int> num_threads{1};  // set at import to OpenMP's default (OMP_NUM_THREADS or the cores)

namespace {

// ---- instruction sets: compiled in, supported by this CPU, and the one in use --------------------

struct Isa {
  const char* name;
  const KernelTable& (*table)();
  bool (*supported)();
};

const std::vector<Isa>& compiled_isas() {
  static const std::vector<Isa> isas = {
#ifdef MINIGRAD_HAS_baseline
      {"baseline", baseline::kernel_table, [] { return true; }},
#endif
#ifdef MINIGRAD_HAS_avx2
      {"avx2", avx2::kernel_table, [] { return cpu::has_avx2_fma(); }},  // CPU and OS (cpu_features.h)
#endif
#ifdef MINIGRAD_HAS_avx512
      {"avx512", avx512::kernel_table, [] { return cpu::has_avx512(); }},
#endif
#ifdef MINIGRAD_HAS_native
      {"native", native::kernel_table, [] { return true; }},
#endif
  };
  return isas;
}

std::atomic<const KernelTable*> active_table{nullptr};

std::vector<std::string> supported_isas() {
  std::vector<std::string> names;
  for (const Isa& isa : compiled_isas())
    if (isa.supported()) names.push_back(isa.name);
  return names;
}

void set_simd(const std::string& name) {
  for (const Isa& isa : compiled_isas()) {
    if (name != isa.name) continue;
    if (!isa.supported())
      throw py::value_error("SIMD level '" + name + "' is compiled in but this CPU does not support it");
    active_table = &isa.table();
    return;
  }
  std::string valid;
  for (const std::string& s : supported_isas()) valid += (valid.empty() ? "" : ", ") + s;
  throw py::value_error("unknown SIMD level '" + name + "'; this build and CPU support: " + valid);
}

// Picks MINIGRAD_SIMD if set, else the widest level the CPU supports (the last compiled).
void choose_simd_at_import() {
  if (const char* forced = std::getenv("MINIGRAD_SIMD"); forced && *forced) {
    try {
      set_simd(forced);
    } catch (const py::value_error& e) {
      throw py::import_error(std::string("MINIGRAD_SIMD: ") + e.what());
    }
    return;
  }
  set_simd(supported_isas().back());
}

const KernelTable& table() { return *active_table.load(std::memory_order_relaxed); }

// ---- the kernels as Python sees them (signatures shared with minigrad/optim/kernels_numpy/) -----------
// The array lists come first, by position or by name; every hyperparameter after them is
// keyword-only, so two swapped hyperparameters cannot pass unnoticed. pybind11 matches keyword
// arguments slowly (~4 µs for Adam's ten, as long as the update of a small group), so the kernels
// are plain vectorcall functions: each keyword is matched against interned names, by pointer first.

struct Hyperparameter {  // a keyword-only argument: a double or bool field of the kernel's Args
  const char* name;
  bool is_bool;
  size_t offset;
};
#define MINIGRAD_FIELD(Args, field) \
  Hyperparameter { #field, std::is_same_v<decltype(Args::field), bool>, offsetof(Args, field) }

template <typename Args>
struct Signature {
  const char* name;
  std::vector<const char*> lists;
  std::vector<Hyperparameter> hyperparameters;
  void (*run)(PyObject* const* lists, const Args& args);  // checks the lists, then runs the kernel
  const char* doc;
  std::vector<PyObject*> interned = {};  // every parameter's name, lists first (made at import)
  std::string text_signature = {};      // "adam(params, ..., *, lr, ...)\n--\n\n" + doc

  size_t size() const { return lists.size() + hyperparameters.size(); }
  const char* parameter(size_t i) const {
    return i < lists.size() ? lists[i] : hyperparameters[i - lists.size()].name;
  }
};

[[noreturn]] void type_error(const std::string& message) { fail(PyExc_TypeError, message); }

// values[i] <- parameter i of the call, from its position or its keyword.
template <typename Args>
void bind(const Signature<Args>& sig, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
          std::vector<PyObject*>& values) {
  const std::string op = std::string(sig.name) + "()";
  if (static_cast<size_t>(nargs) > sig.lists.size())
    type_error(op + " takes " + std::to_string(sig.lists.size()) + " positional arguments (the array lists) but " +
               std::to_string(nargs) + " were given; pass " + sig.hyperparameters[0].name +
               "=... and the other hyperparameters by keyword");
  std::copy(args, args + nargs, values.begin());
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, k);
    size_t i = static_cast<size_t>(nargs + k) % sig.size();  // keywords usually come in signature order
    size_t tried = 0;
    while (tried < sig.size() && sig.interned[i] != key) i = (i + 1) % sig.size(), ++tried;
    if (tried == sig.size()) {  // not the interned object: compare the text
      for (i = 0; i < sig.size() && PyUnicode_Compare(key, sig.interned[i]) != 0; ++i) {
      }
      if (i == sig.size())
        type_error(op + " got an unexpected keyword argument '" + py::str(key).cast<std::string>() + "'");
    }
    if (values[i]) type_error(op + " got multiple values for argument '" + sig.parameter(i) + "'");
    values[i] = args[nargs + k];
  }
  for (size_t i = 0; i < sig.size(); ++i)
    if (!values[i])
      type_error(op + " missing required " + (i < sig.lists.size() ? "argument '" : "keyword argument '") +
                 sig.parameter(i) + "'");
}

template <typename Args>
PyObject* call_kernel(const Signature<Args>& sig, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  try {
    std::vector<PyObject*> values(sig.size(), nullptr);
    bind(sig, args, nargs, kwnames, values);
    Args parsed{};
    for (size_t h = 0; h < sig.hyperparameters.size(); ++h) {
      const Hyperparameter& hp = sig.hyperparameters[h];
      PyObject* value = values[sig.lists.size() + h];
      char* field = reinterpret_cast<char*>(&parsed) + hp.offset;
      if (hp.is_bool) {
        const int truth = PyObject_IsTrue(value);
        if (truth < 0) throw py::error_already_set();
        *reinterpret_cast<bool*>(field) = truth;
      } else {
        const double number = PyFloat_AsDouble(value);
        if (number == -1.0 && PyErr_Occurred()) {
          PyErr_Clear();
          type_error(std::string(sig.name) + "(): " + hp.name + " must be a real number, got " +
                     Py_TYPE(value)->tp_name);
        }
        *reinterpret_cast<double*>(field) = number;
      }
    }
    sig.run(values.data(), parsed);
    Py_RETURN_NONE;
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

// Interns the parameter names and writes the signature that inspect.signature() reads.
template <typename Args>
void prepare(Signature<Args>& sig) {
  std::string params;
  for (size_t i = 0; i < sig.size(); ++i) {
    sig.interned.push_back(PyUnicode_InternFromString(sig.parameter(i)));
    params += std::string(i ? ", " : "") + (i == sig.lists.size() ? "*, " : "") + sig.parameter(i);
  }
  sig.text_signature = std::string(sig.name) + "(" + params + ")\n--\n\n" + sig.doc;
}

Signature<SgdArgs> sgd_signature{
    "sgd", {"params", "grads", "momentum_buffers"},
    {MINIGRAD_FIELD(SgdArgs, lr), MINIGRAD_FIELD(SgdArgs, weight_decay), MINIGRAD_FIELD(SgdArgs, momentum),
     MINIGRAD_FIELD(SgdArgs, dampening), MINIGRAD_FIELD(SgdArgs, nesterov), MINIGRAD_FIELD(SgdArgs, maximize),
     MINIGRAD_FIELD(SgdArgs, first_step)},
    [](PyObject* const* l, const SgdArgs& a) {
      auto c = check_arrays("sgd()", {{"params", l[0], true}, {"grads", l[1], false},
                                    {"momentum_buffers", l[2], true, a.momentum != 0}});
      launch(c, table().f32.sgd, table().f64.sgd, a);
    },
    "SGD step over a list of tensors, in place (csrc/optim/sgd.h)."};

Signature<AdagradArgs> adagrad_signature{
    "adagrad", {"params", "grads", "state_sums"},
    {MINIGRAD_FIELD(AdagradArgs, clr), MINIGRAD_FIELD(AdagradArgs, weight_decay), MINIGRAD_FIELD(AdagradArgs, eps),
     MINIGRAD_FIELD(AdagradArgs, maximize)},
    [](PyObject* const* l, const AdagradArgs& a) {
      auto c = check_arrays("adagrad()", {{"params", l[0], true}, {"grads", l[1], false}, {"state_sums", l[2], true}});
      launch(c, table().f32.adagrad, table().f64.adagrad, a);
    },
    "Adagrad step over a list of tensors, in place (csrc/optim/adagrad.h)."};

Signature<AdadeltaArgs> adadelta_signature{
    "adadelta", {"params", "grads", "square_avgs", "acc_deltas"},
    {MINIGRAD_FIELD(AdadeltaArgs, lr), MINIGRAD_FIELD(AdadeltaArgs, rho), MINIGRAD_FIELD(AdadeltaArgs, eps),
     MINIGRAD_FIELD(AdadeltaArgs, weight_decay), MINIGRAD_FIELD(AdadeltaArgs, maximize)},
    [](PyObject* const* l, const AdadeltaArgs& a) {
      auto c = check_arrays("adadelta()", {{"params", l[0], true}, {"grads", l[1], false},
                                         {"square_avgs", l[2], true}, {"acc_deltas", l[3], true}});
      launch(c, table().f32.adadelta, table().f64.adadelta, a);
    },
    "Adadelta step over a list of tensors, in place (csrc/optim/adadelta.h)."};

Signature<RmspropArgs> rmsprop_signature{
    "rmsprop", {"params", "grads", "square_avgs", "grad_avgs", "momentum_buffers"},
    {MINIGRAD_FIELD(RmspropArgs, lr), MINIGRAD_FIELD(RmspropArgs, alpha), MINIGRAD_FIELD(RmspropArgs, eps),
     MINIGRAD_FIELD(RmspropArgs, weight_decay), MINIGRAD_FIELD(RmspropArgs, momentum),
     MINIGRAD_FIELD(RmspropArgs, centered), MINIGRAD_FIELD(RmspropArgs, maximize)},
    [](PyObject* const* l, const RmspropArgs& a) {
      auto c = check_arrays("rmsprop()", {{"params", l[0], true}, {"grads", l[1], false},
                                        {"square_avgs", l[2], true}, {"grad_avgs", l[3], true, a.centered},
                                        {"momentum_buffers", l[4], true, a.momentum > 0}});
      launch(c, table().f32.rmsprop, table().f64.rmsprop, a);
    },
    "RMSprop step over a list of tensors, in place (csrc/optim/rmsprop.h)."};

Signature<AdamArgs> adam_signature{
    "adam", {"params", "grads", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"},
    {MINIGRAD_FIELD(AdamArgs, lr), MINIGRAD_FIELD(AdamArgs, beta1), MINIGRAD_FIELD(AdamArgs, beta2),
     MINIGRAD_FIELD(AdamArgs, eps), MINIGRAD_FIELD(AdamArgs, weight_decay), MINIGRAD_FIELD(AdamArgs, step_size),
     MINIGRAD_FIELD(AdamArgs, bias_correction2_sqrt), MINIGRAD_FIELD(AdamArgs, amsgrad),
     MINIGRAD_FIELD(AdamArgs, maximize), MINIGRAD_FIELD(AdamArgs, decoupled_weight_decay)},
    [](PyObject* const* l, const AdamArgs& a) {
      auto c = check_arrays("adam()", {{"params", l[0], true}, {"grads", l[1], false}, {"exp_avgs", l[2], true},
                                     {"exp_avg_sqs", l[3], true}, {"max_exp_avg_sqs", l[4], true, a.amsgrad}});
      launch(c, table().f32.adam, table().f64.adam, a);
    },
    "Adam/AdamW step over a list of tensors, in place (csrc/optim/adam.h)."};

Signature<AxpyArgs> axpy_signature{
    "axpy", {"xs", "ys"}, {MINIGRAD_FIELD(AxpyArgs, alpha)},
    [](PyObject* const* l, const AxpyArgs& a) {
      auto c = check_arrays("axpy()", {{"xs", l[0], true}, {"ys", l[1], false}});
      launch(c, table().f32.axpy, table().f64.axpy, a);
    },
    "x += alpha * y over a list of tensors: the in-place bandwidth reference for benchmarks (csrc/optim/axpy.h)."};

Signature<AdamaxArgs> adamax_signature{
    "adamax", {"params", "grads", "exp_avgs", "exp_infs"},
    {MINIGRAD_FIELD(AdamaxArgs, beta1), MINIGRAD_FIELD(AdamaxArgs, beta2), MINIGRAD_FIELD(AdamaxArgs, eps),
     MINIGRAD_FIELD(AdamaxArgs, weight_decay), MINIGRAD_FIELD(AdamaxArgs, step_size),
     MINIGRAD_FIELD(AdamaxArgs, maximize)},
    [](PyObject* const* l, const AdamaxArgs& a) {
      auto c = check_arrays("adamax()", {{"params", l[0], true}, {"grads", l[1], false}, {"exp_avgs", l[2], true},
                                       {"exp_infs", l[3], true}});
      launch(c, table().f32.adamax, table().f64.adamax, a);
    },
    "Adamax step over a list of tensors, in place (csrc/optim/adamax.h)."};

Signature<NadamArgs> nadam_signature{
    "nadam", {"params", "grads", "exp_avgs", "exp_avg_sqs"},
    {MINIGRAD_FIELD(NadamArgs, lr), MINIGRAD_FIELD(NadamArgs, beta1), MINIGRAD_FIELD(NadamArgs, beta2),
     MINIGRAD_FIELD(NadamArgs, eps), MINIGRAD_FIELD(NadamArgs, weight_decay),
     MINIGRAD_FIELD(NadamArgs, bias_correction2), MINIGRAD_FIELD(NadamArgs, grad_step_size),
     MINIGRAD_FIELD(NadamArgs, exp_avg_step_size), MINIGRAD_FIELD(NadamArgs, maximize),
     MINIGRAD_FIELD(NadamArgs, decoupled_weight_decay)},
    [](PyObject* const* l, const NadamArgs& a) {
      auto c = check_arrays("nadam()", {{"params", l[0], true}, {"grads", l[1], false}, {"exp_avgs", l[2], true},
                                      {"exp_avg_sqs", l[3], true}});
      launch(c, table().f32.nadam, table().f64.nadam, a);
    },
    "NAdam step over a list of tensors, in place (csrc/optim/nadam.h)."};

Signature<RadamArgs> radam_signature{
    "radam", {"params", "grads", "exp_avgs", "exp_avg_sqs"},
    {MINIGRAD_FIELD(RadamArgs, lr), MINIGRAD_FIELD(RadamArgs, beta1), MINIGRAD_FIELD(RadamArgs, beta2),
     MINIGRAD_FIELD(RadamArgs, eps), MINIGRAD_FIELD(RadamArgs, weight_decay),
     MINIGRAD_FIELD(RadamArgs, bias_correction1), MINIGRAD_FIELD(RadamArgs, bias_correction2_sqrt),
     MINIGRAD_FIELD(RadamArgs, rect), MINIGRAD_FIELD(RadamArgs, rectified), MINIGRAD_FIELD(RadamArgs, maximize),
     MINIGRAD_FIELD(RadamArgs, decoupled_weight_decay)},
    [](PyObject* const* l, const RadamArgs& a) {
      auto c = check_arrays("radam()", {{"params", l[0], true}, {"grads", l[1], false}, {"exp_avgs", l[2], true},
                                      {"exp_avg_sqs", l[3], true}});
      launch(c, table().f32.radam, table().f64.radam, a);
    },
    "RAdam step over a list of tensors, in place (csrc/optim/radam.h)."};
Signature<AsgdArgs> asgd_signature{
    "asgd", {"params", "grads", "axs"},
    {MINIGRAD_FIELD(AsgdArgs, eta), MINIGRAD_FIELD(AsgdArgs, lambd), MINIGRAD_FIELD(AsgdArgs, mu),
     MINIGRAD_FIELD(AsgdArgs, weight_decay), MINIGRAD_FIELD(AsgdArgs, maximize)},
    [](PyObject* const* l, const AsgdArgs& a) {
      auto c = check_arrays("asgd()", {{"params", l[0], true}, {"grads", l[1], false}, {"axs", l[2], true}});
      launch(c, table().f32.asgd, table().f64.asgd, a);
    },
    "ASGD step over a list of tensors, in place (csrc/optim/asgd.h)."};

Signature<RpropArgs> rprop_signature{
    "rprop", {"params", "grads", "prevs", "step_sizes"},
    {MINIGRAD_FIELD(RpropArgs, etaminus), MINIGRAD_FIELD(RpropArgs, etaplus), MINIGRAD_FIELD(RpropArgs, step_size_min),
     MINIGRAD_FIELD(RpropArgs, step_size_max), MINIGRAD_FIELD(RpropArgs, maximize)},
    [](PyObject* const* l, const RpropArgs& a) {
      auto c = check_arrays("rprop()", {{"params", l[0], true}, {"grads", l[1], false}, {"prevs", l[2], true},
                                      {"step_sizes", l[3], true}});
      launch(c, table().f32.rprop, table().f64.rprop, a);
    },
    "Rprop step over a list of tensors, in place (csrc/optim/rprop.h)."};

Signature<LionArgs> lion_signature{
    "lion", {"params", "grads", "exp_avgs"},
    {MINIGRAD_FIELD(LionArgs, lr), MINIGRAD_FIELD(LionArgs, beta1), MINIGRAD_FIELD(LionArgs, beta2),
     MINIGRAD_FIELD(LionArgs, weight_decay), MINIGRAD_FIELD(LionArgs, maximize)},
    [](PyObject* const* l, const LionArgs& a) {
      auto c = check_arrays("lion()", {{"params", l[0], true}, {"grads", l[1], false}, {"exp_avgs", l[2], true}});
      launch(c, table().f32.lion, table().f64.lion, a);
    },
    "Lion step over a list of tensors, in place (csrc/optim/lion.h)."};
Signature<SparseAdamArgs> sparse_adam_signature{
    "sparse_adam", {"params", "exp_avgs", "exp_avg_sqs", "indices", "values"},
    {MINIGRAD_FIELD(SparseAdamArgs, beta1), MINIGRAD_FIELD(SparseAdamArgs, beta2), MINIGRAD_FIELD(SparseAdamArgs, eps),
     MINIGRAD_FIELD(SparseAdamArgs, step_size), MINIGRAD_FIELD(SparseAdamArgs, maximize)},
    [](PyObject* const* l, const SparseAdamArgs& a) {
      Checked c;
      const Rows rows = check_sparse_adam(c, l);
      SparseAdamArgs args = a;
      args.rows = rows.rows.data();
      args.widths = rows.widths.data();
      launch(c, table().f32.sparse_adam, table().f64.sparse_adam, args);
    },
    "SparseAdam step on the rows of coalesced row-sparse gradients, in place (csrc/optim/sparse_adam.h)."};
Signature<AdafactorArgs> adafactor_signature{
    "adafactor", {"params", "grads", "row_vars", "col_vars", "variances"},
    {MINIGRAD_FIELD(AdafactorArgs, lr), MINIGRAD_FIELD(AdafactorArgs, weight_decay),
     MINIGRAD_FIELD(AdafactorArgs, eps1), MINIGRAD_FIELD(AdafactorArgs, eps2), MINIGRAD_FIELD(AdafactorArgs, d),
     MINIGRAD_FIELD(AdafactorArgs, rho), MINIGRAD_FIELD(AdafactorArgs, one_minus_beta2),
     MINIGRAD_FIELD(AdafactorArgs, maximize)},
    [](PyObject* const* l, const AdafactorArgs& a) {
      auto c = check_arrays("adafactor()", {{"params", l[0], true}, {"grads", l[1], false},
                                          {"row_vars", l[2], true, true, Layout::row_factor},
                                          {"col_vars", l[3], true, true, Layout::col_factor},
                                          {"variances", l[4], true, true, Layout::unfactored}});
      launch(c, table().f32.adafactor, table().f64.adafactor, a);
    },
    "Adafactor step over a list of tensors, in place: row_vars/col_vars for >= 2-D params, variances for "
    "the others, None elsewhere (csrc/optim/adafactor.h)."};

Signature<MuonMomentumArgs> muon_momentum_signature{
    "muon_momentum", {"grads", "momentum_buffers", "updates"},
    {MINIGRAD_FIELD(MuonMomentumArgs, momentum), MINIGRAD_FIELD(MuonMomentumArgs, nesterov)},
    [](PyObject* const* l, const MuonMomentumArgs& a) {
      auto c = check_arrays("muon_momentum()", {{"grads", l[0], false}, {"momentum_buffers", l[1], true},
                                              {"updates", l[2], true}});
      launch(c, table().f32.muon_momentum, table().f64.muon_momentum, a);
    },
    "Muon's momentum over a list of tensors, in place; writes the matrices to orthogonalise (csrc/optim/muon.h)."};

Signature<MuonUpdateArgs> muon_update_signature{
    "muon_update", {"params", "orthos"},
    {MINIGRAD_FIELD(MuonUpdateArgs, lr), MINIGRAD_FIELD(MuonUpdateArgs, weight_decay),
     MINIGRAD_FIELD(MuonUpdateArgs, adjusted_lr)},
    [](PyObject* const* l, const MuonUpdateArgs& a) {
      auto c = check_arrays("muon_update()", {{"params", l[0], true}, {"orthos", l[1], false}});
      launch(c, table().f32.muon_update, table().f64.muon_update, a);
    },
    "Muon's parameter update over a list of tensors, in place (csrc/optim/muon.h)."};
Signature<SchedulefreeAdamwArgs> schedulefree_adamw_signature{
    "schedulefree_adamw", {"params", "grads", "zs", "exp_avg_sqs"},
    {MINIGRAD_FIELD(SchedulefreeAdamwArgs, lr), MINIGRAD_FIELD(SchedulefreeAdamwArgs, ckp1),
     MINIGRAD_FIELD(SchedulefreeAdamwArgs, y_step), MINIGRAD_FIELD(SchedulefreeAdamwArgs, beta2),
     MINIGRAD_FIELD(SchedulefreeAdamwArgs, eps), MINIGRAD_FIELD(SchedulefreeAdamwArgs, weight_decay),
     MINIGRAD_FIELD(SchedulefreeAdamwArgs, bias_correction2)},
    [](PyObject* const* l, const SchedulefreeAdamwArgs& a) {
      auto c = check_arrays("schedulefree_adamw()", {{"params", l[0], true}, {"grads", l[1], false},
                                                     {"zs", l[2], true}, {"exp_avg_sqs", l[3], true}});
      launch(c, table().f32.schedulefree_adamw, table().f64.schedulefree_adamw, a);
    },
    "Schedule-Free AdamW step over a list of tensors, in place (csrc/optim/schedulefree.h)."};

Signature<SchedulefreeSgdArgs> schedulefree_sgd_signature{
    "schedulefree_sgd", {"params", "grads", "zs"},
    {MINIGRAD_FIELD(SchedulefreeSgdArgs, lr), MINIGRAD_FIELD(SchedulefreeSgdArgs, ckp1),
     MINIGRAD_FIELD(SchedulefreeSgdArgs, y_step), MINIGRAD_FIELD(SchedulefreeSgdArgs, weight_decay)},
    [](PyObject* const* l, const SchedulefreeSgdArgs& a) {
      auto c = check_arrays("schedulefree_sgd()", {{"params", l[0], true}, {"grads", l[1], false}, {"zs", l[2], true}});
      launch(c, table().f32.schedulefree_sgd, table().f64.schedulefree_sgd, a);
    },
    "Schedule-Free SGD step over a list of tensors, in place (csrc/optim/schedulefree.h)."};

Signature<LerpArgs> lerp_signature{
    "lerp", {"starts", "ends"}, {MINIGRAD_FIELD(LerpArgs, weight)},
    [](PyObject* const* l, const LerpArgs& a) {
      auto c = check_arrays("lerp()", {{"starts", l[0], true}, {"ends", l[1], false}});
      launch(c, table().f32.lerp, table().f64.lerp, a);
    },
    "start = lerp(start, end, weight) over a list of tensors, in place: EMA and the Schedule-Free "
    "train/eval switch (csrc/optim/averaging.h)."};

Signature<RunningMeanArgs> running_mean_signature{
    "running_mean", {"means", "values"}, {MINIGRAD_FIELD(RunningMeanArgs, count)},
    [](PyObject* const* l, const RunningMeanArgs& a) {
      auto c = check_arrays("running_mean()", {{"means", l[0], true}, {"values", l[1], false}});
      launch(c, table().f32.running_mean, table().f64.running_mean, a);
    },
    "mean += (value - mean) / count over a list of tensors, in place: SWA (csrc/optim/averaging.h)."};

template <typename Args, Signature<Args>* sig>
PyObject* kernel_entry(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return call_kernel(*sig, args, nargs, kwnames);
}

// Adds the kernel to module m as a vectorcall function (its PyMethodDef lives as long as the process).
template <typename Args, Signature<Args>* sig>
void add_kernel(py::module_& m) {
  prepare(*sig);
  auto* def = new PyMethodDef{sig->name,
                              reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&kernel_entry<Args, sig>)),
                              METH_FASTCALL | METH_KEYWORDS, sig->text_signature.c_str()};
  py::object module_name = m.attr("__name__");
  PyObject* function = PyCFunction_NewEx(def, nullptr, module_name.ptr());
  if (!function) throw py::error_already_set();
  m.add_object(sig->name, py::reinterpret_steal<py::object>(function));
}

// ---- threads and build facts ---------------------------------------------------------------------------

int get_num_threads() { return num_threads.load(std::memory_order_relaxed); }

// Process-wide, like torch.set_num_threads (OpenMP's own setting is per calling thread).
void set_num_threads(int n) {
  if (n < 1) throw py::value_error("num_threads must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  num_threads = n;
#else
  if (n > 1 && PyErr_WarnEx(PyExc_RuntimeWarning, "minigrad was built without OpenMP: kernels run single-threaded", 1) < 0)
    throw py::error_already_set();
#endif
}

void set_thread_policy(const std::string& name) {
  if (name == "adaptive")
    thread_policy = ThreadPolicy::adaptive;
  else if (name == "fixed")
    thread_policy = ThreadPolicy::fixed;
  else
    throw py::value_error("thread policy must be 'adaptive' or 'fixed', got '" + name + "'");
}

std::string get_thread_policy() { return thread_policy == ThreadPolicy::adaptive ? "adaptive" : "fixed"; }

py::dict build_info() {
  std::vector<std::string> compiled;
  for (const Isa& isa : compiled_isas()) compiled.push_back(isa.name);
  return py::dict("version"_a = MINIGRAD_VERSION, "compiler"_a = MINIGRAD_COMPILER,
#ifdef _OPENMP
                  "openmp"_a = true, "openmp_version"_a = _OPENMP,
#else
                  "openmp"_a = false, "openmp_version"_a = py::none(),
#endif
                  "num_threads"_a = get_num_threads(), "thread_policy"_a = get_thread_policy(), "simd_compiled"_a = compiled,
                  "simd_supported"_a = supported_isas(), "simd"_a = std::string(table().isa),
                  "grain"_a = kGrain);
}

}  // namespace
}  // namespace minigrad

PYBIND11_MODULE(_C, m) {
  using namespace minigrad;
  m.doc() = "minigrad's compiled optimizer kernels (see csrc/optim/ and csrc/driver.h)";
  choose_simd_at_import();
#ifdef _OPENMP
  num_threads = omp_get_max_threads();
#endif

  add_kernel<SgdArgs, &sgd_signature>(m);
  add_kernel<AdagradArgs, &adagrad_signature>(m);
  add_kernel<AdadeltaArgs, &adadelta_signature>(m);
  add_kernel<RmspropArgs, &rmsprop_signature>(m);
  add_kernel<AdamArgs, &adam_signature>(m);
  add_kernel<AxpyArgs, &axpy_signature>(m);
  add_kernel<AdamaxArgs, &adamax_signature>(m);
  add_kernel<NadamArgs, &nadam_signature>(m);
  add_kernel<RadamArgs, &radam_signature>(m);
  add_kernel<AsgdArgs, &asgd_signature>(m);
  add_kernel<RpropArgs, &rprop_signature>(m);
  add_kernel<LionArgs, &lion_signature>(m);
  add_kernel<SparseAdamArgs, &sparse_adam_signature>(m);
  add_kernel<AdafactorArgs, &adafactor_signature>(m);
  add_kernel<MuonMomentumArgs, &muon_momentum_signature>(m);
  add_kernel<MuonUpdateArgs, &muon_update_signature>(m);
  add_kernel<SchedulefreeAdamwArgs, &schedulefree_adamw_signature>(m);
  add_kernel<SchedulefreeSgdArgs, &schedulefree_sgd_signature>(m);
  add_kernel<LerpArgs, &lerp_signature>(m);
  add_kernel<RunningMeanArgs, &running_mean_signature>(m);
  m.def(
      "check_arrays",
      [](const char* op, const std::vector<std::pair<std::string, py::handle>>& lists,
         const std::vector<std::string>& read_only, bool one_dtype, bool skip_missing,
         const std::vector<std::string>& unused, const std::vector<std::string>& factored) {
        auto listed = [](const std::vector<std::string>& names, const std::string& name) {
          return std::find(names.begin(), names.end(), name) != names.end();
        };
        std::vector<ListArg> args;
        for (const auto& [name, seq] : lists) {
          const auto at = std::find(factored.begin(), factored.end(), name);
          const Layout layout = at == factored.end() ? Layout::same : static_cast<Layout>(1 + (at - factored.begin()));
          args.push_back({name.c_str(), seq, !listed(read_only, name), !listed(unused, name), layout});
        }
        check_arrays(op, args, one_dtype, skip_missing);
      },
      "op"_a, "lists"_a, "read_only"_a = std::vector<std::string>{"grads"}, "one_dtype"_a = true,
      "skip_missing"_a = false, "unused"_a = std::vector<std::string>{}, "factored"_a = std::vector<std::string>{},
      "The kernels' argument checks, for the NumPy twins and the optimizer classes: lists is "
      "[(name, arrays), ...] with params first and grads second; an unused list (an optional state "
      "the options do not need) must still be a list or tuple, and is not read; factored names Adafactor's "
      "[row factor, column factor, unfactored] lists (see adafactor()).");
  m.def(
      "check_sparse_adam",
      [](py::handle params, py::handle exp_avgs, py::handle exp_avg_sqs, py::handle indices, py::handle values) {
        PyObject* const l[] = {params.ptr(), exp_avgs.ptr(), exp_avg_sqs.ptr(), indices.ptr(), values.ptr()};
        Checked c;
        check_sparse_adam(c, l);
      },
      "params"_a, "exp_avgs"_a, "exp_avg_sqs"_a, "indices"_a, "values"_a,
      "sparse_adam()'s argument checks, for its NumPy twin: raises TypeError or ValueError as the kernel would.");
  m.def("set_simd", &set_simd, "level"_a, "Use the kernels compiled for this SIMD level (see build_info()).");
  m.def("set_num_threads", &set_num_threads, "n"_a);
  m.def("get_num_threads", &get_num_threads);
  m.def("set_thread_policy", &set_thread_policy, "policy"_a,
        "'adaptive' (default): above the grain, each call runs on the calling thread or on the team, "
        "whichever recent calls of its kernel and size found faster; 'fixed': always on the team. "
        "Results are bitwise identical either way.");
  m.def("get_thread_policy", &get_thread_policy);
  m.def("build_info", &build_info);
}
