"""Ops against torch's own sample inputs: every SampleInput that torch's OpInfo database
(``op_db``, what torch tests itself with) has for the ops below, in float64, converted to minigrad
tensors. Values and the gradients of every tensor that requires grad (under a fixed random
cotangent) must equal torch's to 1e-10. A sample that calls with an option minigrad's signature
lacks is skipped with that reason, and each op must keep most of its samples."""
import collections
import inspect

import numpy as np
import pytest

torch = pytest.importorskip("torch")
common_methods_invocations = pytest.importorskip(
    "torch.testing._internal.common_methods_invocations", reason="torch's OpInfo database (needs expecttest)")

import minigrad as mg  # noqa: E402
from minigrad import functional as MF  # noqa: E402
from torch_samples import to_minigrad  # noqa: E402 (tests/, on sys.path through conftest.py)

# negative bases to fractional powers: NaN in both libraries, and NumPy warns
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in power:RuntimeWarning")
RTOL = ATOL = 1e-10
# OpInfo name -> minigrad's function (the Tensor method of that name where not listed)
FUNCTIONS = {"nn.functional.cross_entropy": MF.cross_entropy, "__rdiv__": mg.Tensor.__rtruediv__}
OPS = ["clamp", "clamp_min", "clamp_max", "nn.functional.cross_entropy", "std", "var", "matmul", "__rmatmul__",
       "__rpow__", "__radd__", "__rsub__", "__rmul__", "__rdiv__"]


def minigrad_function(name):
    return FUNCTIONS.get(name) or getattr(mg.Tensor, name)


def unsupported(name, sample):
    """Why minigrad cannot take ``sample``, or None."""
    try:
        inspect.signature(minigrad_function(name)).bind(sample.input, *sample.args, **sample.kwargs)
    except TypeError as error:
        return f"{name}: minigrad's signature refuses args {len(sample.args)}, kwargs {sorted(sample.kwargs)}: {error}"
    return None


def _samples():
    torch.manual_seed(0)
    for op in common_methods_invocations.op_db:
        if op.name in OPS:
            label = op.name + (f".{op.variant_test_name}" if op.variant_test_name else "")
            for i, sample in enumerate(op.sample_inputs("cpu", torch.float64, requires_grad=True)):
                yield pytest.param(op, sample, id=f"{label}-{i}")


SAMPLES = list(_samples())


@pytest.mark.parametrize("op, sample", SAMPLES)
def test_value_and_gradients_match_torch_on_its_samples(op, sample):
    reason = unsupported(op.name, sample)
    if reason:
        pytest.skip(reason)
    converted = {}
    args, kwargs = to_minigrad((sample.input, *sample.args), converted), to_minigrad(sample.kwargs, converted)
    ours = minigrad_function(op.name)(*args, **kwargs)
    theirs = sample.output_process_fn_grad(op.op(sample.input, *sample.args, **sample.kwargs))
    expected_value = theirs.detach().numpy()
    np.testing.assert_allclose(ours.numpy(), expected_value, rtol=RTOL, atol=ATOL, err_msg="value")
    assert ours.shape == expected_value.shape and ours.dtype == expected_value.dtype

    differentiable = [(t, m) for t, m in converted.values() if t.requires_grad]
    if not differentiable:
        return
    cotangent = np.random.default_rng(0).standard_normal(ours.shape)
    expected = torch.autograd.grad(theirs, [t for t, _ in differentiable], torch.from_numpy(cotangent),
                                   allow_unused=True)
    ours.backward(cotangent)
    for i, ((_, m), e) in enumerate(zip(differentiable, expected)):
        np.testing.assert_allclose(np.zeros(m.shape) if m.grad is None else m.grad,
                                   np.zeros(m.shape) if e is None else e.numpy(), rtol=RTOL, atol=ATOL,
                                   err_msg=f"gradient of tensor {i} (shape {m.shape})")


def test_most_samples_of_every_op_are_checked():
    checked = collections.Counter(op.name for op, sample in (p.values for p in SAMPLES)
                                  if not unsupported(op.name, sample))
    total = collections.Counter(p.values[0].name for p in SAMPLES)
    assert set(total) == set(OPS), f"torch has no samples for {set(OPS) - set(total)}"
    for name in OPS:
        assert checked[name] >= 0.75 * total[name], f"{name}: only {checked[name]} of {total[name]} samples checked"
