// The kernels' argument checks, part of the bindings (csrc/bindings.cpp, the one file that includes
// this): strict, never a silent copy, every array checked before a kernel writes anything. Apart so
// that the bindings file stays readable; like it, this knows about Python.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <type_traits>
#include <vector>

#include "kernel_table.h"

namespace minigrad {
namespace {

namespace py = pybind11;

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

}  // namespace
}  // namespace minigrad
