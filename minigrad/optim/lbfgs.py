"""L-BFGS with torch.optim.LBFGS's (2.13) iterations, in Python over NumPy: the work is a few dot
products and axpys on one flat vector per iteration, so there is no kernel to write."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from ..autograd.engine import enable_grad, mark_modified
from ..tensor import Tensor
from .optimizer import Optimizer, require, _index

if TYPE_CHECKING:
    from .._typing import Array
    from .optimizer import ParamGroup, Params

    Scalar = Any  # a NumPy scalar of the parameters' dtype (as torch's 0-d tensors), or a Python number
    # (x, t, d) ↦ (loss, flat gradient) at x + t·d, the parameters put back to x afterwards
    Objective = Callable[[list["Array"], Scalar, "Array"], tuple[float, "Array"]]


class LBFGS(Optimizer):
    """Limited-memory BFGS (Nocedal & Wright, Algorithm 7.4), as torch.optim.LBFGS. Each ``step(closure)``
    runs up to ``max_iter`` iterations on the flattened parameters x, with g = ∇f(x)::

        s = t·d,  y = g − g_prev;  if y·s > 1e-10, keep (s, y, ρ = 1/(y·s)) (the last history_size)
                                      and γ = y·s / y·y
        d = −H·g by the two-loop recursion (d = −g at first):
            q = −g;  for i newest→oldest: αᵢ = ρᵢ·sᵢ·q, q −= αᵢ·yᵢ
            r = γ·q; for i oldest→newest: βᵢ = ρᵢ·yᵢ·r, r += (αᵢ − βᵢ)·sᵢ;  d = r
        t = lr (min(1, 1/‖g‖₁)·lr on the very first iteration), or found by a strong-Wolfe line search
        x ← x + t·d

    and stops when max|g| ≤ tolerance_grad, g·d > −tolerance_change, max|t·d| ≤ tolerance_change,
    |Δloss| < tolerance_change, or after ``max_eval`` evaluations of the closure (default
    max_iter·5/4). One param group only; the state (torch's names) sits with the first parameter.
    """

    def __init__(self, params: Params, lr: float | Tensor = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        require(bool(0.0 <= lr), "Invalid learning rate: {}", lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def _validate(self, group: ParamGroup) -> None:
        require(0.0 <= group["lr"], "Invalid learning rate: {}", group["lr"])

    def _flat_grad(self) -> Array:
        return np.concatenate([np.zeros(p._data.size, p._data.dtype) if p._grad is None
                               else p._grad.to_dense()._data.reshape(-1) if p._grad.is_sparse  # as torch's LBFGS
                               else p._grad._data.reshape(-1) for p in self._params])

    def _add_to_params(self, t: Scalar, d: Array) -> None:
        """x ← x + t·d, d split over the parameters."""
        offset = 0
        for p in self._params:
            _fused_axpy(p._data, t, d[offset:offset + p._data.size].reshape(p._data.shape))
            offset += p._data.size
        mark_modified(*self._params)

    def _set_params(self, x: list[Array]) -> None:
        for p, saved in zip(self._params, x):
            np.copyto(p._data, saved)
        mark_modified(*self._params)

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]  # the closure is required
        """Up to ``max_iter`` iterations; ``closure`` zeroes the gradients, computes the loss, calls
        ``backward()`` and returns the loss. Returns the loss of the first evaluation."""
        if len(self.param_groups) != 1:  # (add_param_group made another)
            raise AssertionError(f"Expected exactly one param_group, but got {len(self.param_groups)}")
        group = self.param_groups[0]
        lr = group["lr"]
        if isinstance(lr, Tensor):
            lr = lr._data.reshape(())[()]
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        def evaluate() -> Any:
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = evaluate()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss

        saved: Callable[[str], Any] = state.get  # None before the first step
        d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss = map(saved, (
            "d", "t", "old_dirs", "old_stps", "ro", "H_diag", "prev_flat_grad", "prev_loss"))
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # a pair that keeps H positive definite
                    if len(old_dirs) == history_size:
                        del old_dirs[0], old_stps[0], ro[0]
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                al = state.setdefault("al", [None] * history_size)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    _fused_axpy(q, -al[i], old_dirs[i])
                d = r = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    _fused_axpy(r, al[i] - be_i, old_stps[i])
            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                np.copyto(prev_flat_grad, flat_grad)
            prev_loss = loss
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:  # not a descent direction
                break

            ls_func_evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = [p._data.copy() for p in self._params]

                def objective(x: list[Array], t: Scalar, d: Array) -> tuple[float, Array]:
                    self._add_to_params(t, d)
                    value = float(evaluate())
                    grad = self._flat_grad()
                    self._set_params(x)
                    return value, grad

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(objective, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_to_params(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_to_params(t, d)
                if n_iter != max_iter:  # the last iteration's loss is the next step's first evaluation
                    loss = float(evaluate())
                    flat_grad = self._flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a ``state_dict()`` (ours or torch's, converted to NumPy): the group is checked as
        the base class does, the state's vectors are copied (flat, the parameters' total size) and
        its scalars kept."""
        before = self.state, self.param_groups
        saved = state_dict.get("state", {}) if isinstance(state_dict, dict) else {}
        super().load_state_dict({**state_dict, "state": {}} if isinstance(state_dict, dict) else state_dict)
        try:
            if isinstance(saved, dict) and saved:
                if len(saved) != 1 or _index(next(iter(saved))) != _index(state_dict["param_groups"][0]["params"][0]):
                    raise ValueError("loaded state dict: LBFGS keeps its state with the first parameter only, got "
                                     f"state for parameters {list(saved)}")
                (index, entries), = saved.items()
                self.state[self._params[0]] = {name: _state_entry(name, value, self._params)
                                               for name, value in entries.items()}
        except (TypeError, ValueError):
            self.state, self.param_groups = before
            raise
        self._params = self.param_groups[0]["params"]


def _fused_axpy(y: Array, a: Scalar, x: Array) -> None:
    """y ← y + a·x with one rounding, as torch's vectorized ``y.add_(x, alpha=a)`` (a fused
    multiply-add) gives it: float32 through float64, where the product is exact; float64 by
    Dekker's exact product and Knuth's exact sum, p + e = a·x and s + r = p + y, then s + (r + e)."""
    a = y.dtype.type(a)
    if y.dtype == np.float32:
        np.copyto(y, np.float64(a) * x.astype(np.float64) + y, casting="same_kind")
        return
    split = 134217729.0  # 2**27 + 1: splits a double into two halves of 26 bits
    a_hi = split * a - (split * a - a)
    a_lo = a - a_hi
    x_hi = split * x - (split * x - x)
    x_lo = x - x_hi
    p = a * x
    e = ((a_hi * x_hi - p) + a_hi * x_lo + a_lo * x_hi) + a_lo * x_lo
    s = p + y
    virtual = s - p
    r = (p - (s - virtual)) + (y - virtual)
    np.add(s, r + e, out=y)


_VECTORS = ("d", "prev_flat_grad")  # flat vectors over all parameters
_VECTOR_LISTS = ("old_dirs", "old_stps")


def _state_entry(name: str, value: Any, params: list[Tensor]) -> Any:
    """A checked copy of one saved LBFGS state entry."""
    size, dtype = sum(p._data.size for p in params), params[0]._data.dtype

    def vector(v: Any) -> Array:
        array = np.array(v, dtype=dtype, copy=True).reshape(-1)
        if array.size != size:
            raise ValueError(f"loaded state dict: LBFGS state {name!r} has {array.size} elements, the parameters "
                             f"{size}")
        return array

    def scalar(v: Any) -> Any:
        return v if v is None or isinstance(v, (int, float)) else np.asarray(v, dtype=dtype).reshape(())[()]

    if name in _VECTORS:
        return vector(value)
    if name in _VECTOR_LISTS:
        return [vector(v) for v in value]
    if name in ("ro", "al"):
        return [scalar(v) for v in value]
    if name in ("func_evals", "n_iter"):
        return int(value)
    return scalar(value)  # t, H_diag, prev_loss


def _cubic_interpolate(x1: Scalar, f1: Scalar, g1: Scalar, x2: Scalar, f2: Scalar, g2: Scalar,
                       bounds: tuple[Scalar, Scalar] | None = None) -> Scalar:
    """The minimizer in ``bounds`` (default [x1, x2] sorted) of the cubic through (x, f, f') at x1 and
    x2; the middle of the bounds when the cubic has no minimizer."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, lo), hi)


def _strong_wolfe(objective: Objective, x: list[Array], t: Scalar, d: Array, f: float, g: Array, gtd: Scalar,
                  c1: float = 1e-4, c2: float = 0.9, tolerance_change: float = 1e-9,
                  max_ls: int = 25) -> tuple[float, Array, Scalar, int]:
    """A step t along d meeting the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6):
    f(x + t·d) ≤ f + c1·t·g·d and |∇f(x + t·d)·d| ≤ −c2·g·d. First a bracket is found by growing t
    (cubic extrapolation), then it is zoomed by cubic interpolation. Returns (loss, flat gradient,
    t, evaluations)."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = objective(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    # bracket: [t_lo, t_hi] with their losses, gradients and slopes (one entry when t already satisfies)
    while ls_iter < max_ls:
        decreases = not (f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev))
        if decreases and abs(gtd_new) <= -c2 * gtd:  # t meets both conditions
            bracket, bracket_f, bracket_g, bracket_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if not decreases or gtd_new >= 0:  # a minimizer lies between t_prev and t
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        # extrapolate: t grows to somewhere in [t + 0.01·(t − t_prev), 10·t]
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(t + 0.01 * (t - t_prev),
                                                                                            t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = objective(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:  # no bracket found: (0, t)
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket; bracket[low] is the best point so far
    insufficient_progress = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # keep t at least 10% of the bracket's width away from its ends (once; twice in a row: force it)
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insufficient_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insufficient_progress = False
            else:
                insufficient_progress = True
        else:
            insufficient_progress = False
        f_new, g_new = objective(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low]:  # sufficient decrease fails: new high end
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new.copy(), gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:  # the old low end becomes the high end
                bracket[high], bracket_f[high] = bracket[low], bracket_f[low]
                bracket_g[high], bracket_gtd[high] = bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new.copy(), gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals
