// The one file that knows about Python: argument checking (strict, never a silent copy), the
// choice of instruction set, and the module minigrad._C.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "kernel_table.h"

namespace py = pybind11;
using namespace pybind11::literals;

namespace minigrad {

std::atomic<ThreadPolicy> thread_policy{ThreadPolicy::adaptive};

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
      {"avx2", avx2::kernel_table,
       [] { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }},
#endif
#ifdef MINIGRAD_HAS_avx512
      {"avx512", avx512::kernel_table,
       [] {
         return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("fma");
       }},
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
  for (const ListArg& list : lists)
    if (!PyList_Check(list.seq.ptr()) && !PyTuple_Check(list.seq.ptr()))
      fail(PyExc_TypeError, where + list.name + " must be a list of numpy arrays, got " +
                                std::string(Py_TYPE(list.seq.ptr())->tp_name));
  // Lists and tuples hold their items in an array: read them in place (borrowed, no new references).
  auto size = [](py::handle seq) { return static_cast<size_t>(PySequence_Fast_GET_SIZE(seq.ptr())); };
  auto item_at = [](py::handle seq, size_t i) { return PySequence_Fast_ITEMS(seq.ptr())[i]; };
  const size_t n = size(lists[0].seq);
  for (size_t k = 1; k < lists.size(); ++k)
    if (lists[k].used && size(lists[k].seq) != n)
      fail(PyExc_ValueError, where + lists[k].name + " has " + std::to_string(size(lists[k].seq)) +
                                 " arrays but " + lists[0].name + " has " + std::to_string(n));

  Checked out;
  out.arity = static_cast<int>(lists.size());
  out.arrays.reserve(n * lists.size());
  out.numel.reserve(n);
  struct Span { const char* begin; const char* end; bool written; size_t list, index; };
  std::vector<Span> spans;
  spans.reserve(n * lists.size());
  int call_dtype = -1;
  for (size_t i = 0; i < n; ++i) {
    const py::detail::PyArray_Proxy* param = nullptr;
    if (skip_missing && item_at(lists[1].seq, i) == Py_None) continue;
    for (size_t k = 0; k < lists.size(); ++k) {
      if (!lists[k].used) {
        out.arrays.push_back(nullptr);
        continue;
      }
      PyObject* item = item_at(lists[k].seq, i);
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

// ---- the kernels as Python sees them (signatures shared with minigrad/optim/kernels_numpy.py) -------

void sgd(py::handle params, py::handle grads, py::handle momentum_buffers, double lr, double weight_decay,
         double momentum, double dampening, bool nesterov, bool maximize, bool first_step) {
  auto c = check_arrays("sgd()", {{"params", params, true}, {"grads", grads, false},
                                {"momentum_buffers", momentum_buffers, true, momentum != 0}});
  launch(c, table().f32.sgd, table().f64.sgd,
         SgdArgs{lr, weight_decay, momentum, dampening, nesterov, maximize, first_step});
}

void adagrad(py::handle params, py::handle grads, py::handle state_sums, double clr, double weight_decay,
             double eps, bool maximize) {
  auto c = check_arrays("adagrad()", {{"params", params, true}, {"grads", grads, false}, {"state_sums", state_sums, true}});
  launch(c, table().f32.adagrad, table().f64.adagrad, AdagradArgs{clr, weight_decay, eps, maximize});
}

void adadelta(py::handle params, py::handle grads, py::handle square_avgs, py::handle acc_deltas, double lr,
              double rho, double eps, double weight_decay, bool maximize) {
  auto c = check_arrays("adadelta()", {{"params", params, true}, {"grads", grads, false},
                                     {"square_avgs", square_avgs, true}, {"acc_deltas", acc_deltas, true}});
  launch(c, table().f32.adadelta, table().f64.adadelta, AdadeltaArgs{lr, rho, eps, weight_decay, maximize});
}

void rmsprop(py::handle params, py::handle grads, py::handle square_avgs, py::handle grad_avgs,
             py::handle momentum_buffers, double lr, double alpha, double eps, double weight_decay, double momentum,
             bool centered, bool maximize) {
  auto c = check_arrays("rmsprop()", {{"params", params, true}, {"grads", grads, false},
                                    {"square_avgs", square_avgs, true}, {"grad_avgs", grad_avgs, true, centered},
                                    {"momentum_buffers", momentum_buffers, true, momentum > 0}});
  launch(c, table().f32.rmsprop, table().f64.rmsprop,
         RmspropArgs{lr, alpha, eps, weight_decay, momentum, centered, maximize});
}

void adam(py::handle params, py::handle grads, py::handle exp_avgs, py::handle exp_avg_sqs,
          py::handle max_exp_avg_sqs, double lr, double beta1, double beta2, double eps, double weight_decay,
          double step_size, double bias_correction2_sqrt, bool amsgrad, bool maximize, bool decoupled_weight_decay) {
  auto c = check_arrays("adam()", {{"params", params, true}, {"grads", grads, false}, {"exp_avgs", exp_avgs, true},
                                 {"exp_avg_sqs", exp_avg_sqs, true}, {"max_exp_avg_sqs", max_exp_avg_sqs, true, amsgrad}});
  launch(c, table().f32.adam, table().f64.adam,
         AdamArgs{lr, beta1, beta2, eps, weight_decay, step_size, bias_correction2_sqrt, amsgrad, maximize,
                  decoupled_weight_decay});
}

void axpy(py::handle xs, py::handle ys, double alpha) {
  auto c = check_arrays("axpy()", {{"xs", xs, true}, {"ys", ys, false}});
  launch(c, table().f32.axpy, table().f64.axpy, alpha);
}

// ---- threads and build facts ---------------------------------------------------------------------------

int get_num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
  if (n < 1) throw py::value_error("num_threads must be >= 1, got " + std::to_string(n));
#ifdef _OPENMP
  omp_set_num_threads(n);
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
                  "grain"_a = 32768);
}

}  // namespace
}  // namespace minigrad

PYBIND11_MODULE(_C, m) {
  using namespace minigrad;
  m.doc() = "minigrad's compiled optimizer kernels (see csrc/optim_kernels.h)";
  choose_simd_at_import();

  m.def("sgd", &sgd, "params"_a, "grads"_a, "momentum_buffers"_a, "lr"_a, "weight_decay"_a, "momentum"_a,
        "dampening"_a, "nesterov"_a, "maximize"_a, "first_step"_a,
        "SGD step over a list of tensors, in place (csrc/optim_kernels.h).");
  m.def("adagrad", &adagrad, "params"_a, "grads"_a, "state_sums"_a, "clr"_a, "weight_decay"_a, "eps"_a,
        "maximize"_a, "Adagrad step over a list of tensors, in place.");
  m.def("adadelta", &adadelta, "params"_a, "grads"_a, "square_avgs"_a, "acc_deltas"_a, "lr"_a, "rho"_a, "eps"_a,
        "weight_decay"_a, "maximize"_a, "Adadelta step over a list of tensors, in place.");
  m.def("rmsprop", &rmsprop, "params"_a, "grads"_a, "square_avgs"_a, "grad_avgs"_a, "momentum_buffers"_a, "lr"_a,
        "alpha"_a, "eps"_a, "weight_decay"_a, "momentum"_a, "centered"_a, "maximize"_a,
        "RMSprop step over a list of tensors, in place.");
  m.def("adam", &adam, "params"_a, "grads"_a, "exp_avgs"_a, "exp_avg_sqs"_a, "max_exp_avg_sqs"_a, "lr"_a,
        "beta1"_a, "beta2"_a, "eps"_a, "weight_decay"_a, "step_size"_a, "bias_correction2_sqrt"_a, "amsgrad"_a,
        "maximize"_a, "decoupled_weight_decay"_a, "Adam/AdamW step over a list of tensors, in place.");
  m.def("axpy", &axpy, "xs"_a, "ys"_a, "alpha"_a,
        "x += alpha * y over a list of tensors: the in-place bandwidth reference for benchmarks.");
  m.def(
      "check_arrays",
      [](const char* op, const std::vector<std::pair<std::string, py::handle>>& lists,
         const std::vector<std::string>& read_only, bool one_dtype, bool skip_missing) {
        std::vector<ListArg> args;
        for (const auto& [name, seq] : lists)
          args.push_back({name.c_str(), seq, std::find(read_only.begin(), read_only.end(), name) == read_only.end()});
        check_arrays(op, args, one_dtype, skip_missing);
      },
      "op"_a, "lists"_a, "read_only"_a = std::vector<std::string>{"grads"}, "one_dtype"_a = true,
      "skip_missing"_a = false,
      "The kernels' argument checks, for the NumPy twins and the optimizer classes: lists is "
      "[(name, arrays), ...] with params first and grads second.");
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
