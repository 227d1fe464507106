"""Property tests: for any shapes, dtype and hyperparameters, the C++ kernels agree with their
NumPy twins and never touch the gradients."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad.optim as optim

from optim_cases import Param

unit = st.floats(0.0, 0.999)
shapes = st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=9), min_size=1, max_size=4)

OPTIMIZERS = st.one_of(
    st.builds(lambda lr, m, d, wd, mx: ("SGD", dict(lr=lr, momentum=m, dampening=d, weight_decay=wd, maximize=mx)),
              unit, unit, unit, unit, st.booleans()),
    st.builds(lambda lr, ld, wd, init: ("Adagrad", dict(lr=lr, lr_decay=ld, weight_decay=wd, initial_accumulator_value=init)),
              unit, unit, unit, unit),
    st.builds(lambda lr, rho, wd: ("Adadelta", dict(lr=lr, rho=rho, weight_decay=wd)), unit, unit, unit),
    st.builds(lambda lr, a, m, c, wd: ("RMSprop", dict(lr=lr, alpha=a, momentum=m, centered=c, weight_decay=wd)),
              unit, unit, unit, st.booleans(), unit),
    st.builds(lambda lr, b1, b2, wd, ams, dec, mx: ("Adam", dict(lr=lr, betas=(b1, b2), weight_decay=wd, amsgrad=ams,
                                                                 decoupled_weight_decay=dec, maximize=mx)),
              unit, unit, unit, unit, st.booleans(), st.booleans(), st.booleans()),
    st.builds(lambda lr, b1, b2, wd, mx: ("Adamax", dict(lr=lr, betas=(b1, b2), weight_decay=wd, maximize=mx)),
              unit, unit, unit, unit, st.booleans()),
    st.builds(lambda lr, b1, b2, wd, psi, dec: ("NAdam", dict(lr=lr, betas=(b1, b2), weight_decay=wd,
                                                              momentum_decay=psi, decoupled_weight_decay=dec)),
              unit, unit, unit, unit, unit, st.booleans()),
    st.builds(lambda lr, b1, b2, wd, dec: ("RAdam", dict(lr=lr, betas=(b1, b2), weight_decay=wd,
                                                         decoupled_weight_decay=dec)),
              unit, unit, unit, unit, st.booleans()),
)


@settings(max_examples=150, deadline=None)
@given(case=OPTIMIZERS, shapes=shapes, dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**32 - 1))
def test_cpp_and_numpy_agree_and_grads_stay_untouched(case, shapes, dtype, seed):
    name, options = case
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(3)]
    results = []
    for backend in ("cpp", "numpy"):
        params = [Param(np.array(a)) for a in start]
        opt = getattr(optim, name)(params, **options, backend=backend)
        for step in grads:
            for p, g in zip(params, step):
                p.grad = g
            saved = [g.copy() for g in step]
            with np.errstate(all="ignore"):
                opt.step()
            assert all(g.tobytes() == s.tobytes() for g, s in zip(step, saved))
        results.append(params)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(*results):
        assert a.data.shape == b.data.shape and a.data.dtype == dtype
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tolerance, atol=tolerance, equal_nan=True)


# ---- a rejected step changes nothing, in any group ------------------------------------------------

def _arrays(state):
    """The names of a parameter's state arrays (not its numbers: step, NAdam's mu_product)."""
    return sorted(k for k, v in state.items() if isinstance(v, np.ndarray))


def _spoil_param_dtype(opt, p, rng):
    p.data = p.numpy().astype(np.float64 if p.data.dtype == np.float32 else np.float32)
    p.grad = p.grad.numpy().astype(p.data.dtype)


def _spoil_state_dtype(opt, p, rng):
    name = rng.choice(_arrays(opt.state[p]))
    opt.state[p][name] = opt.state[p][name].astype(np.float64 if p.data.dtype == np.float32 else np.float32)


def _spoil_state_read_only(opt, p, rng):
    opt.state[p][rng.choice(_arrays(opt.state[p]))].flags.writeable = False


def _spoil_state_layout(opt, p, rng):
    name = rng.choice(_arrays(opt.state[p]))
    opt.state[p][name] = np.repeat(opt.state[p][name], 2).reshape(-1, 2)[:, 0].reshape(p.data.shape)


def _spoil_state_shape(opt, p, rng):
    name = rng.choice(_arrays(opt.state[p]))
    opt.state[p][name] = np.zeros(p.numpy().size + 1, p.data.dtype)


def _spoil_grad(opt, p, rng):
    if p.grad is None:
        p.grad = np.zeros_like(p.numpy())
    p.grad.data = np.zeros(p.numpy().size + 2, p.dtype)  # the grad setter refuses this; the array can change


SPOILERS = [_spoil_param_dtype, _spoil_state_dtype, _spoil_state_read_only, _spoil_state_layout, _spoil_state_shape,
            _spoil_grad]


def _snapshot(opt, params):
    """Every byte a step may change: parameters, state arrays and numbers, and which state exists."""
    state = {i: {k: (v.dtype.str, v.shape, v.tobytes()) if isinstance(v, np.ndarray) else v
                 for k, v in opt.state[p].items()} for i, p in enumerate(params) if p in opt.state}
    return [(p.data.dtype.str, p.numpy().tobytes()) for p in params], state


@settings(max_examples=200, deadline=None)
@given(case=OPTIMIZERS, sizes=st.lists(st.lists(st.integers(2, 6), min_size=1, max_size=3), min_size=2, max_size=4),
       backend=st.sampled_from(["cpp", "numpy"]), spoiler=st.sampled_from(SPOILERS), seed=st.integers(0, 2**32 - 1),
       fresh=st.booleans())
def test_a_rejected_step_changes_nothing(case, sizes, backend, spoiler, seed, fresh):
    # Several groups; some parameters have no gradient (no call), some join late (their state is
    # created during the rejected step and must be gone after it). One parameter of a random group,
    # possibly the last, is spoiled after it has state: the step must raise before any write.
    name, options = case
    rng = np.random.default_rng(seed)
    groups = [[Param(rng.standard_normal(n).astype(np.float32)) for n in group] for group in sizes]
    params = [p for group in groups for p in group]
    opt = getattr(optim, name)([{"params": g} for g in groups], **options, backend=backend)
    for p in params:
        p.grad = rng.standard_normal(p.data.shape).astype(np.float32)
    opt.step()
    for p in params:
        p.grad = None if rng.random() < 0.2 else rng.standard_normal(p.data.shape).astype(np.float32)
    if fresh:  # a parameter without state yet, in the first group
        late = Param(rng.standard_normal(3).astype(np.float32), rng.standard_normal(3).astype(np.float32))
        opt.param_groups[0]["params"].append(late)
        params.append(late)
    victim = groups[rng.integers(len(groups))][-1]
    if not _arrays(opt.state[victim]) and spoiler is not _spoil_param_dtype:
        spoiler = _spoil_grad  # SGD without momentum keeps no state to spoil
    if victim.grad is None:
        victim.grad = np.zeros_like(victim.numpy())
    spoiler(opt, victim, rng)
    before = _snapshot(opt, params)
    try:
        opt.step()
    except (TypeError, ValueError):
        assert _snapshot(opt, params) == before
    else:
        assert spoiler is _spoil_param_dtype and not _arrays(opt.state[victim])
