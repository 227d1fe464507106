"""minigrad.autograd.gradcheck: passes correct gradients, catches wrong ones, refuses coarse inputs."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad.autograd.gradcheck import GradcheckError
from minigrad.tensor import _node


def leaf(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def wrong_square(x):
    """x² with a backward that is off by a factor of 2 in one element."""
    data = x.numpy()

    def backward(g):
        grad = 2 * data * g
        grad.flat[-1] *= 2
        return (grad,)
    return _node(data * data, (x,), backward, "wrong_square")


def test_passes_correct_gradients_of_several_inputs_and_outputs():
    a, b = leaf(2, 3, seed=1), leaf(3, seed=2)
    assert gradcheck(lambda a, b: (a * b, (a @ b).exp()), [a, b])
    assert a.grad is None and b.grad is None  # leaves the inputs as it found them


def test_catches_a_wrong_backward():
    x = leaf(2, 2)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 2\)\).*output element 3, input element 3"):
        gradcheck(wrong_square, [x])
    assert gradcheck(wrong_square, [x], raise_exception=False) is False
    assert isinstance(GradcheckError("x"), RuntimeError)


def test_catches_a_missing_gradient():
    x = leaf(3)
    assert gradcheck(lambda x: x.detach() * x.detach() + x * 0, [x], raise_exception=False) is False
    assert gradcheck(lambda x: x.detach() * 2, [x], raise_exception=False) is False  # no graph at all


def test_non_differentiable_inputs_are_held_fixed():
    x, fixed = leaf(3), Tensor(np.arange(3.0))
    assert gradcheck(lambda x, f, scale: x * f * scale, [x, fixed, 2.0])


def test_tolerances():
    x = leaf(4)
    noisy = lambda x: _node(np.sin(x.numpy()), (x,), lambda g: (g * (np.cos(x.numpy()) + 1e-4),), "noisy_sin")
    assert gradcheck(noisy, [x], atol=1e-3)
    assert not gradcheck(noisy, [x], atol=1e-6, rtol=1e-6, raise_exception=False)


def test_bad_input():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda x: x * 2, [mg.ones(3, requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda x: x * 2, [mg.ones(3)])


def test_old_path_is_an_alias():
    import importlib
    alias, target = map(importlib.import_module, ("minigrad.gradcheck", "minigrad.autograd.gradcheck"))
    assert alias.__all__ == target.__all__ and all(getattr(alias, n) is getattr(target, n) for n in target.__all__)
    assert mg.gradcheck is target.gradcheck  # the package attribute stays the function
