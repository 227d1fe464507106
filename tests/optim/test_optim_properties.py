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
        np.testing.assert_allclose(a.data, b.data, rtol=tolerance, atol=tolerance, equal_nan=True)
