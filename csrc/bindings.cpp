// The one file that knows about Python: argument checking (strict, never a silent copy), the
// choice of instruction set, and the module minigrad._C.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <type_traits>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

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

// ---- argument checking ---------------------------------------------------------------------------

// One list argument of a kernel: its name, the Python sequence, and whether the kernel writes it.
struct ListArg {
  const char* name;
  py::handle seq;
  bool written;
  bool used = true;  // false: an optional state the options do not need (passed as nullptr)
};

// What the checks hand to a kernel: one dtype, and a pointer per (tensor, list).
struct Checked {
  bool is_double = false;
  int64_t count = 0;
  int arity = 0;
  std::vector<void*> arrays;  // [tensor][list]
  std::vector<int64_t> numel;
  // A tuple per list, holding a strong reference to every array until the kernel has returned: the
  // kernel runs without the GIL, and another thread may empty the caller's list meanwhile.
  std::vector<py::object> held;
};

[[noreturn]] void fail(PyObject* kind, const std::string& message) {
  PyErr_SetString(kind, message.c_str());
  throw py::error_already_set();
}

// As Python prints a shape: (), (3,), (3, 4).
std::string shape_str(const py::detail::PyArray_Proxy* a) {
  std::string s = "(";
  for (int d = 0; d < a->nd; ++d) s += (d ? ", " : "") + std::to_string(a->dimensions[d]);
  return s + (a->nd == 1 ? ",)" : ")");
}

const char* dtype_name(int type_num) {
  using api = py::detail::npy_api;
  return type_num == api::NPY_FLOAT_ ? "float32" : type_num == api::NPY_DOUBLE_ ? "float64" : nullptr;
}

std::string describe_dtype(PyObject* array) {
  return py::str(py::handle(array).attr("dtype")).cast<std::string>();
}

// Checks every array before anything is written:
//  - each item is a numpy.ndarray of native float32/float64 (TypeError otherwise);
//  - with one_dtype, all arrays share params[0]'s dtype; otherwise each tensor's arrays share its
//    param's dtype (TypeError);
//  - each array has its param's shape, is C-contiguous and aligned, and is writeable if the kernel
//    writes it (ValueError): an in-place update must land in the caller's array, never a copy;
//  - no array the kernel writes overlaps any other array of the call (ValueError);
//  - with skip_missing, a tensor whose grads entry is None is left out.
Checked check_arrays(const char* op, const std::vector<ListArg>& lists, bool one_dtype = true,
                     bool skip_missing = false) {
  using api = py::detail::npy_api;
  const std::string where = std::string(op) + ": ";
  if (lists.empty() || (skip_missing && lists.size() < 2))
    fail(PyExc_ValueError, where + "needs the params list" + (skip_missing ? " and the grads list" : ""));
  // Exactly a list or a tuple (a subclass could hand out different arrays on each access), read
  // once into a tuple this call keeps: items are then read in place, as borrowed references.
  Checked out;
  for (const ListArg& list : lists) {
    PyObject* seq = list.seq.ptr();
    if (!PyList_CheckExact(seq) && !PyTuple_CheckExact(seq))
      fail(PyExc_TypeError, where + list.name + " must be a list or tuple of numpy arrays, got " +
                                std::string(Py_TYPE(seq)->tp_name));
    PyObject* snapshot = PySequence_Tuple(seq);
    if (!snapshot) throw py::error_already_set();
    out.held.push_back(py::reinterpret_steal<py::object>(snapshot));
  }
  auto size = [&](size_t k) { return static_cast<size_t>(PyTuple_GET_SIZE(out.held[k].ptr())); };
  auto item_at = [&](size_t k, size_t i) { return PyTuple_GET_ITEM(out.held[k].ptr(), i); };
  const size_t n = size(0);
  for (size_t k = 1; k < lists.size(); ++k)
    if (lists[k].used && size(k) != n)
      fail(PyExc_ValueError, where + lists[k].name + " has " + std::to_string(size(k)) + " arrays but " +
                                 lists[0].name + " has " + std::to_string(n));

  out.arity = static_cast<int>(lists.size());
  out.arrays.reserve(n * lists.size());
  out.numel.reserve(n);
  struct Span { const char* begin; const char* end; bool written; size_t list, index; };
  std::vector<Span> spans;
  spans.reserve(n * lists.size());
  int call_dtype = -1;
  for (size_t i = 0; i < n; ++i) {
    const py::detail::PyArray_Proxy* param = nullptr;
    if (skip_missing && item_at(1, i) == Py_None) continue;
    for (size_t k = 0; k < lists.size(); ++k) {
      if (!lists[k].used) {
        out.arrays.push_back(nullptr);
        continue;
      }
      PyObject* item = item_at(k, i);
      // The message prefix, built only when a check fails (this runs for every array of every step).
      auto at = [&] { return where + lists[k].name + "[" + std::to_string(i) + "]"; };
      if (!api::get().PyArray_Check_(item))
        fail(PyExc_TypeError, at() + " must be a numpy.ndarray, got " + Py_TYPE(item)->tp_name);
      const auto* a = py::detail::array_proxy(item);
      const auto* descr = py::detail::array_descriptor_proxy(a->descr);
      const bool swapped = descr->byteorder == (PY_BIG_ENDIAN ? '<' : '>');
      if (!dtype_name(descr->type_num) || swapped)
        fail(PyExc_TypeError, at() + " has dtype " + describe_dtype(item) +
                                  "; expected float32 or float64 in native byte order");
      if (k == 0) {
        param = a;
        if (call_dtype < 0) call_dtype = descr->type_num;
        if (one_dtype && descr->type_num != call_dtype)
          fail(PyExc_TypeError, at() + " has dtype " + dtype_name(descr->type_num) + " but " +
                                    lists[0].name + "[0] has " + dtype_name(call_dtype) +
                                    "; one call updates one dtype (split the list by dtype)");
      } else {
        const auto* p_descr = py::detail::array_descriptor_proxy(param->descr);
        if (descr->type_num != p_descr->type_num)
          fail(PyExc_TypeError, at() + " has dtype " + dtype_name(descr->type_num) + " but " +
                                    lists[0].name + "[" + std::to_string(i) + "] has " +
                                    dtype_name(p_descr->type_num));
        if (a->nd != param->nd || !std::equal(a->dimensions, a->dimensions + a->nd, param->dimensions))
          fail(PyExc_ValueError, at() + " has shape " + shape_str(a) + " but " + lists[0].name + "[" +
                                     std::to_string(i) + "] has shape " + shape_str(param));
      }
      if (!(a->flags & api::NPY_ARRAY_C_CONTIGUOUS_))
        fail(PyExc_ValueError, at() +
                                   " is not C-contiguous; an in-place update needs the array itself, not a copy "
                                   "(pass np.ascontiguousarray(...) and keep that array)");
      if (!(a->flags & api::NPY_ARRAY_ALIGNED_))
        fail(PyExc_ValueError, at() + " is not aligned to its dtype");
      if (lists[k].written && !(a->flags & api::NPY_ARRAY_WRITEABLE_))
        fail(PyExc_ValueError, at() + " is read-only; the kernel updates it in place");
      int64_t numel = 1;
      for (int d = 0; d < a->nd; ++d) numel *= a->dimensions[d];
      if (k == 0) out.numel.push_back(numel);
      out.arrays.push_back(a->data);
      if (numel > 0)
        spans.push_back({a->data, a->data + numel * (descr->type_num == api::NPY_DOUBLE_ ? 8 : 4), lists[k].written, k, i});
    }
  }
  out.count = static_cast<int64_t>(out.numel.size());
  out.is_double = call_dtype == api::NPY_DOUBLE_;

  // Overlap: sort by start; each span is compared with the earlier ones that still extend past it.
  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) { return x.begin < y.begin; });
  std::vector<const Span*> open;
  for (const Span& s : spans) {
    open.erase(std::remove_if(open.begin(), open.end(), [&](const Span* o) { return o->end <= s.begin; }), open.end());
    for (const Span* o : open)
      if (o->written || s.written)
        fail(PyExc_ValueError, where + lists[o->list].name + "[" + std::to_string(o->index) + "] and " +
                                   lists[s.list].name + "[" + std::to_string(s.index) +
                                   "] overlap in memory; every updated array needs its own buffer");
    open.push_back(&s);
  }
  return out;
}

// Runs kernel f32 or f64 on the checked arrays with the GIL released.
template <typename F32, typename F64, typename Args>
void launch(const Checked& c, F32 f32, F64 f64, const Args& args) {
  if (c.count == 0) return;
  auto run = [&](auto kernel, auto* typed_null) {
    using T = std::remove_pointer_t<decltype(typed_null)>;
    std::vector<T*> arrays(c.arrays.size());
    std::transform(c.arrays.begin(), c.arrays.end(), arrays.begin(), [](void* p) { return static_cast<T*>(p); });
    const Batch<T> batch{arrays.data(), c.numel.data(), c.count, c.arity};
    py::gil_scoped_release release;
    kernel(batch, args);
  };
  if (c.is_double)
    run(f64, static_cast<double*>(nullptr));
  else
    run(f32, static_cast<float*>(nullptr));
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
  add_kernel<SchedulefreeAdamwArgs, &schedulefree_adamw_signature>(m);
  add_kernel<SchedulefreeSgdArgs, &schedulefree_sgd_signature>(m);
  add_kernel<LerpArgs, &lerp_signature>(m);
  add_kernel<RunningMeanArgs, &running_mean_signature>(m);
  m.def(
      "check_arrays",
      [](const char* op, const std::vector<std::pair<std::string, py::handle>>& lists,
         const std::vector<std::string>& read_only, bool one_dtype, bool skip_missing,
         const std::vector<std::string>& unused) {
        auto listed = [](const std::vector<std::string>& names, const std::string& name) {
          return std::find(names.begin(), names.end(), name) != names.end();
        };
        std::vector<ListArg> args;
        for (const auto& [name, seq] : lists)
          args.push_back({name.c_str(), seq, !listed(read_only, name), !listed(unused, name)});
        check_arrays(op, args, one_dtype, skip_missing);
      },
      "op"_a, "lists"_a, "read_only"_a = std::vector<std::string>{"grads"}, "one_dtype"_a = true,
      "skip_missing"_a = false, "unused"_a = std::vector<std::string>{},
      "The kernels' argument checks, for the NumPy twins and the optimizer classes: lists is "
      "[(name, arrays), ...] with params first and grads second; an unused list (an optional state "
      "the options do not need) must still be a list or tuple, and is not read.");
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
