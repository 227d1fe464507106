// The one file that knows about Python: argument checking (strict, never a silent copy), the
// choice of instruction set, and the module minigrad._C.
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

// The shape a list's arrays have, from their param's shape. The factored layouts are Adafactor's:
// a ≥ 2-D param's second moment is a row factor (last dim 1) and a column factor (second-to-last dim
// 1), a < 2-D param's is an unfactored array; the layout a param does not use is None in the list.
enum class Layout { same, row_factor, col_factor, unfactored };

// One list argument of a kernel: its name, the Python sequence, and whether the kernel writes it.
struct ListArg {
  const char* name;
  py::handle seq;
  bool written;
  bool used = true;  // false: an optional state the options do not need (passed as nullptr)
  Layout layout = Layout::same;
};

// The shape a factored layout asks of an array beside a param of shape dims[0..nd); false: None.
bool factored_shape(Layout layout, const Py_intptr_t* dims, int nd, std::vector<Py_intptr_t>& shape) {
  shape.assign(dims, dims + nd);
  if (layout == Layout::unfactored) return nd < 2;
  if (nd < 2) return false;
  shape[nd - (layout == Layout::row_factor ? 1 : 2)] = 1;
  return true;
}

// What the checks hand to a kernel: one dtype, and a pointer per (tensor, list).
struct Checked {
  bool is_double = false;
  int64_t count = 0;
  int arity = 0;
  std::vector<void*> arrays;  // [tensor][list]
  std::vector<int64_t> numel;
  std::vector<int64_t> rows, cols;  // each param's last two dims (fewer than two dims: 1 × numel)
  // A tuple per list, holding a strong reference to every array until the kernel has returned: the
  // kernel runs without the GIL, and another thread may empty the caller's list meanwhile.
  std::vector<py::object> held;
};

[[noreturn]] void fail(PyObject* kind, const std::string& message) {
  PyErr_SetString(kind, message.c_str());
  throw py::error_already_set();
}

// As Python prints a shape: (), (3,), (3, 4).
std::string shape_str(const Py_intptr_t* dims, int nd) {
  std::string s = "(";
  for (int d = 0; d < nd; ++d) s += (d ? ", " : "") + std::to_string(dims[d]);
  return s + (nd == 1 ? ",)" : ")");
}
std::string shape_str(const py::detail::PyArray_Proxy* a) { return shape_str(a->dimensions, a->nd); }

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
//  - with skip_missing, a tensor whose grads entry is None is left out;
//  - a list with a factored layout holds None where the param's shape does not use it (ValueError
//    for an array there), and arrays of the reduced shape elsewhere.
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
      std::vector<Py_intptr_t> shape;  // a factored layout's expected shape
      if (k > 0 && lists[k].layout != Layout::same &&
          !factored_shape(lists[k].layout, param->dimensions, param->nd, shape)) {
        if (item != Py_None)
          fail(PyExc_ValueError, at() + " must be None: " + lists[0].name + "[" + std::to_string(i) +
                                     "] has shape " + shape_str(param) +
                                     (param->nd < 2 ? ", whose second moment is not factored"
                                                    : ", whose second moment is factored into rows and columns"));
        out.arrays.push_back(nullptr);
        continue;
      }
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
        const Py_intptr_t* want = lists[k].layout == Layout::same ? param->dimensions : shape.data();
        if (a->nd != param->nd || !std::equal(a->dimensions, a->dimensions + a->nd, want))
          fail(PyExc_ValueError, at() + " has shape " + shape_str(a) + " but " + lists[0].name + "[" +
                                     std::to_string(i) + "] has shape " + shape_str(param) +
                                     (lists[k].layout == Layout::same ? ""
                                                                      : " (expected " + shape_str(want, param->nd) + ")"));
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
      if (k == 0) {
        out.numel.push_back(numel);
        out.rows.push_back(a->nd < 2 ? 1 : a->dimensions[a->nd - 2]);
        out.cols.push_back(a->nd < 2 ? numel : a->dimensions[a->nd - 1]);
      }
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
    const Batch<T> batch{arrays.data(), c.numel.data(), c.count, c.arity, c.rows.data(), c.cols.data()};
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
// ---- row-sparse gradients: the lists a row kernel (sparse_adam) adds to its dense ones --------------

// For tensor i: indices[i] (k,) int64, strictly increasing in [0, params[i].shape[0]) (a coalesced
// gradient's rows: each row updated once), and values[i] (k, *params[i].shape[1:]) of the param's
// dtype; both C-contiguous and aligned, and sharing no memory with any array the kernel writes.
// Appends values[i] to tensor i's arrays in `c` (checked dense lists), makes numel the values' size,
// and returns each tensor's rows and row width for the kernel.
struct Rows {
  std::vector<const int64_t*> rows;
  std::vector<int64_t> widths;
};

Rows check_rows(const char* op, Checked& c, py::handle indices_seq, py::handle values_seq) {
  using api = py::detail::npy_api;
  const std::string where = std::string(op) + ": ";
  const std::pair<const char*, py::handle> lists[] = {{"indices", indices_seq}, {"values", values_seq}};
  for (const auto& [name, seq] : lists) {
    if (!PyList_CheckExact(seq.ptr()) && !PyTuple_CheckExact(seq.ptr()))
      fail(PyExc_TypeError,
           where + name + " must be a list or tuple of numpy arrays, got " + Py_TYPE(seq.ptr())->tp_name);
    PyObject* snapshot = PySequence_Tuple(seq.ptr());
    if (!snapshot) throw py::error_already_set();
    c.held.push_back(py::reinterpret_steal<py::object>(snapshot));
    if (PyTuple_GET_SIZE(snapshot) != c.count)
      fail(PyExc_ValueError, where + name + " has " + std::to_string(PyTuple_GET_SIZE(snapshot)) +
                                 " arrays but params has " + std::to_string(c.count));
  }
  const size_t dense = c.held.size() - 2;  // the snapshots of the dense lists come first; params is held[0]
  struct Span { const char* begin; const char* end; };
  std::vector<Span> written;
  for (int64_t i = 0; i < c.count; ++i)
    for (int k = 0; k < c.arity; ++k) {
      const char* base = static_cast<const char*>(c.arrays[i * c.arity + k]);
      const auto size = c.numel[i] * (c.is_double ? 8 : 4);
      if (size > 0) written.push_back({base, base + size});
    }
  std::sort(written.begin(), written.end(), [](const Span& x, const Span& y) { return x.begin < y.begin; });
  auto overlaps_written = [&](const char* begin, const char* end) {
    auto after = std::upper_bound(written.begin(), written.end(), begin,
                                  [](const char* b, const Span& s) { return b < s.begin; });
    return (after != written.end() && after->begin < end) ||
           (after != written.begin() && std::prev(after)->end > begin);
  };
  Rows out;
  std::vector<void*> arrays;
  for (int64_t i = 0; i < c.count; ++i) {
    const auto* param = py::detail::array_proxy(PyTuple_GET_ITEM(c.held[0].ptr(), i));
    const auto* param_descr = py::detail::array_descriptor_proxy(param->descr);
    auto at = [&](const char* name) { return where + name + "[" + std::to_string(i) + "]"; };
    if (param->nd < 1) fail(PyExc_ValueError, at("params") + " has no rows (a 0-d array)");
    int64_t width = 1;
    for (int d = 1; d < param->nd; ++d) width *= param->dimensions[d];
    PyObject* index_item = PyTuple_GET_ITEM(c.held[dense].ptr(), i);
    PyObject* value_item = PyTuple_GET_ITEM(c.held[dense + 1].ptr(), i);
    for (PyObject* item : {index_item, value_item})
      if (!api::get().PyArray_Check_(item))
        fail(PyExc_TypeError, at(item == index_item ? "indices" : "values") + " must be a numpy.ndarray, got " +
                                  Py_TYPE(item)->tp_name);
    const auto* index = py::detail::array_proxy(index_item);
    const auto* index_descr = py::detail::array_descriptor_proxy(index->descr);
    const bool int64 = index_descr->type_num == api::NPY_LONGLONG_ ||
                       (index_descr->type_num == api::NPY_LONG_ && sizeof(long) == 8);
    if (!int64 || index_descr->byteorder == (PY_BIG_ENDIAN ? '<' : '>'))
      fail(PyExc_TypeError,
           at("indices") + " has dtype " + describe_dtype(index_item) + "; expected int64 in native byte order");
    const auto* value = py::detail::array_proxy(value_item);
    const auto* value_descr = py::detail::array_descriptor_proxy(value->descr);
    if (value_descr->type_num != param_descr->type_num || value_descr->byteorder == (PY_BIG_ENDIAN ? '<' : '>'))
      fail(PyExc_TypeError, at("values") + " has dtype " + describe_dtype(value_item) + " but params[" +
                                std::to_string(i) + "] has " + dtype_name(param_descr->type_num));
    const int64_t k = index->nd == 1 ? index->dimensions[0] : -1;
    if (k < 0) fail(PyExc_ValueError, at("indices") + " has shape " + shape_str(index) + "; expected (k,): the rows");
    if (value->nd != param->nd || value->dimensions[0] != k ||
        !std::equal(value->dimensions + 1, value->dimensions + value->nd, param->dimensions + 1))
      fail(PyExc_ValueError, at("values") + " has shape " + shape_str(value) + "; expected one row of params[" +
                                 std::to_string(i) + "] " + shape_str(param) + " per index, " +
                                 std::to_string(k) + " rows");
    for (const auto* a : {index, value}) {
      const char* name = a == index ? "indices" : "values";
      if (!(a->flags & api::NPY_ARRAY_C_CONTIGUOUS_)) fail(PyExc_ValueError, at(name) + " is not C-contiguous");
      if (!(a->flags & api::NPY_ARRAY_ALIGNED_)) fail(PyExc_ValueError, at(name) + " is not aligned to its dtype");
    }
    const auto* rows = reinterpret_cast<const int64_t*>(index->data);
    for (int64_t r = 0; r < k; ++r) {
      if (rows[r] < 0 || rows[r] >= param->dimensions[0])
        fail(PyExc_ValueError, at("indices") + " holds row " + std::to_string(rows[r]) + ", out of range for " +
                                   std::to_string(param->dimensions[0]) + " rows");
      if (r > 0 && rows[r] <= rows[r - 1])
        fail(PyExc_ValueError, at("indices") + " is not strictly increasing (row " + std::to_string(rows[r]) +
                                   " after " + std::to_string(rows[r - 1]) +
                                   "); coalesce the gradient: each row once, sorted");
    }
    const size_t value_bytes = k * width * (c.is_double ? 8 : 4);
    if ((k > 0 && overlaps_written(index->data, index->data + k * 8)) ||
        (value_bytes > 0 && overlaps_written(value->data, value->data + value_bytes)))
      fail(PyExc_ValueError, where + "indices[" + std::to_string(i) + "] or values[" + std::to_string(i) +
                                 "] overlaps an array the kernel updates; every updated array needs its own buffer");
    arrays.insert(arrays.end(), c.arrays.begin() + i * c.arity, c.arrays.begin() + (i + 1) * c.arity);
    arrays.push_back(value->data);
    c.numel[i] = k * width;
    out.rows.push_back(rows);
    out.widths.push_back(width);
  }
  c.arrays = std::move(arrays);
  c.arity += 1;
  return out;
}

// The dense lists of sparse_adam, checked as every kernel's, then its row lists.
Rows check_sparse_adam(Checked& c, PyObject* const* l) {
  c = check_arrays("sparse_adam()", {{"params", l[0], true}, {"exp_avgs", l[1], true}, {"exp_avg_sqs", l[2], true}});
  return check_rows("sparse_adam()", c, l[3], l[4]);
}

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
      "the options do not need) must still be a list or tuple, and is not read.");
  m.def(
      "check_sparse_adam",
      [](py::handle params, py::handle exp_avgs, py::handle exp_avg_sqs, py::handle indices, py::handle values) {
        PyObject* const l[] = {params.ptr(), exp_avgs.ptr(), exp_avg_sqs.ptr(), indices.ptr(), values.ptr()};
        Checked c;
        check_sparse_adam(c, l);
      },
      "params"_a, "exp_avgs"_a, "exp_avg_sqs"_a, "indices"_a, "values"_a,
      "sparse_adam()'s argument checks, for its NumPy twin: raises TypeError or ValueError as the kernel would.");
      "the options do not need) must still be a list or tuple, and is not read; factored names Adafactor's "
      "[row factor, column factor, unfactored] lists (see adafactor()).");
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
