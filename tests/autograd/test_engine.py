"""minigrad.autograd.engine: accumulation, freeing, retain_grad, no_grad, versions, no leaks, long
chains, the errors of a bad backward, and the op names nodes carry. No torch needed."""
import gc
import inspect
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import Tensor, gradcheck
from minigrad import functional as F


def leaf(*shape, seed=0):
    """A float64 leaf that requires grad."""
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_grad_is_accumulated_and_matches_data():
    w = mg.Parameter(np.ones((2, 3), np.float32))
    for _ in range(2):
        (w * 3).sum().backward()
    assert w.grad.dtype == np.float32 and w.grad.numpy().flags.c_contiguous and (w.grad == 6).all()
    w.grad = None
    (w * Tensor(np.ones(3))).sum().backward()  # float64 operand: the grad keeps w's dtype
    assert w.grad.dtype == np.float32


def test_shared_gradients_are_not_aliased():
    a, b = mg.ones(3, requires_grad=True), mg.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad *= 5  # e.g. gradient clipping in place
    assert (b.grad == 1).all()


def test_fan_out_accumulates():
    x = leaf(3)
    assert gradcheck(lambda x: x * x + x.exp() * x - x.sum(), [x])


def test_long_chain_is_iterative():
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert np.isclose(x.grad, 1.0001 ** 10_000, rtol=1e-3)


def test_graph_is_freed_and_second_backward_raises():
    x = leaf(3)
    loss = (x.exp() * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph"):
        loss.backward()


def test_retain_graph_allows_second_backward():
    x = leaf(3)
    loss = (x.exp() * 2).sum()
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_no_activation_leaks_after_backward():
    x = leaf(100)
    hidden = (x * 2).exp()
    loss = hidden.tanh().sum()
    ref = weakref.ref(hidden)
    del hidden
    gc.disable()  # the graph must be freed by reference counting alone (no cycles)
    try:
        loss.backward()
        assert ref() is None
    finally:
        gc.enable()


def test_retain_grad_and_is_leaf():
    x = leaf(3)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.numpy())
    assert x.is_leaf and not h.is_leaf and h.grad_fn == "mul" and x.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.zeros(2).retain_grad()


def test_backward_with_explicit_grad():
    x = leaf(2, 3)
    g = np.arange(6.0).reshape(2, 3)
    (x * 3).backward(g)
    np.testing.assert_allclose(x.grad, 3 * g)


def test_no_grad_context_and_decorator():
    x = leaf(3)
    with mg.no_grad():
        assert not (x * 2).requires_grad and not mg.is_grad_enabled()
        with mg.enable_grad():
            assert (x * 2).requires_grad
    assert mg.is_grad_enabled()

    @mg.no_grad()
    def f(t):
        return t * 2

    @mg.no_grad
    def g(t):
        return t * 2
    assert not f(x).requires_grad and not g(x).requires_grad and (x * 2).requires_grad


def test_detach_and_requires_grad_():
    x = leaf(3)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    d.requires_grad_()
    (d * d).sum().backward()
    assert x.grad is None and d.grad is not None


def test_in_place_ops_outside_autograd_and_version_check():
    w = leaf(3)
    x = Tensor(np.ones(3))
    y = (w * x).sum()
    x.mul_(2)  # w's gradient needs the old x
    with pytest.raises(RuntimeError, match="modified by an inplace operation: .*'mul'"):
        y.backward()
    with pytest.raises(RuntimeError, match="in-place"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1
    with mg.no_grad():
        w.sub_(0.5, alpha=2)  # optimizer-style updates are fine
        w[0] = 7
    assert w.numpy()[0] == 7


def test_in_place_ops_values():
    t = mg.zeros(2, 3)
    t.fill_(2).add_(mg.ones(3)).mul_(2).div_(3)
    np.testing.assert_allclose(t.numpy(), 2.0)
    t[0, :] = mg.tensor([1.0, 2.0, 3.0])
    t.clamp_(max=2.5)
    np.testing.assert_allclose(t.numpy()[0], [1, 2, 2.5])
    t.copy_(np.full((2, 3), 4.0))
    t.zero_()
    assert np.all(t.numpy() == 0)
    mg.manual_seed(0)
    t.uniform_(2, 3)
    assert np.all((t.numpy() >= 2) & (t.numpy() < 3))
    t.normal_(0, 1)
    u = t
    u += 1  # no graph involved: really in place
    assert u is t


def test_augmented_assignment_on_graph_nodes_rebinds():
    x = leaf(3)
    total = mg.zeros(())
    for _ in range(3):
        total += (x * x).sum()
    h = x * 1
    h *= 2
    (total + h.sum()).backward()
    np.testing.assert_allclose(x.grad, 6 * x.numpy() + 2)


def test_errors_in_backward():
    x = leaf(3)
    with pytest.raises(RuntimeError, match=r"implicitly only for a one-element output, got shape \(3,\)"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"grad has shape \(2,\)"):
        (x * 2).backward(np.ones(2))
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.ones(3).sum().backward()


def test_freed_graph_keeps_its_op_name_and_no_string():
    x = leaf(3)
    loss = (x.exp() * 2).sum()
    loss.backward()
    assert loss._backward is None and loss._parents == ()  # the slot holds a callable or None, never a str
    assert loss.grad_fn == "sum" and not loss.is_leaf and "grad_fn=<sum>" in repr(loss)
    with pytest.raises(RuntimeError, match="second time: the saved values of 'sum'"):
        loss.backward()


def test_no_tensor_method_is_a_lambda():
    for cls in (Tensor, mg.Parameter):
        for name, member in vars(cls).items():
            function = member.fget if isinstance(member, property) else member
            if inspect.isfunction(function):
                assert "<lambda>" not in function.__qualname__, f"{cls.__name__}.{name}"
    assert all(f.__name__ == name for name, f in (("randn", mg.randn), ("rand", mg.rand), ("zeros", mg.zeros)))


def _lstm(x):
    return F.lstm_layer(x.reshape(1, 1, 4), mg.zeros(1, 1, dtype=np.float64), mg.zeros(1, 1, dtype=np.float64),
                        mg.ones(4, 1, dtype=np.float64))


# (expected grad_fn, op on a (2, 4) leaf x and a (4,) leaf y): each node names its own op
GRAD_FN_NAMES = [
    ("maximum", lambda x, y: x.maximum(y)),
    ("minimum", lambda x, y: mg.minimum(x, 0.5)),
    ("amax", lambda x, y: x.amax()),
    ("amin", lambda x, y: x.amin(1)),
    ("index", lambda x, y: x.max(1, keepdim=True).values),
    ("cross_entropy", lambda x, y: F.cross_entropy(x, mg.tensor([0, 3]))),
    ("nll_loss", lambda x, y: F.nll_loss(x, mg.tensor([0, 3]))),
    ("add", lambda x, y: x - y),
    ("mul", lambda x, y: -x),
    ("div", lambda x, y: x / 2),
    ("pow", lambda x, y: 2 ** x),
    ("matmul", lambda x, y: x @ y),
    ("sum", lambda x, y: x.sum(1)),
    ("mul", lambda x, y: x.mean()),  # composed: sum, then a multiplication
    ("leaky_relu", lambda x, y: x.leaky_relu()),
    ("gelu", lambda x, y: F.gelu(x)),
    ("softplus", lambda x, y: x.softplus()),
    ("softmax", lambda x, y: F.softmax(x, 1)),
    ("log_softmax", lambda x, y: F.log_softmax(x, 1)),
    ("linear", lambda x, y: F.linear(x, y.reshape(1, 4))),
    ("layer_norm", lambda x, y: F.layer_norm(x, 4)),
    ("batch_norm", lambda x, y: F.batch_norm(x, None, None, training=True)),
    ("conv2d", lambda x, y: F.conv2d(x.reshape(1, 1, 2, 4), y.reshape(1, 1, 2, 2))),
    ("max_pool2d", lambda x, y: F.max_pool2d(x.reshape(1, 1, 2, 4), 2)),
    ("pad", lambda x, y: F.pad(x, (1, 1))),
    ("lstm_layer", lambda x, y: _lstm(y)),
    ("cat", lambda x, y: mg.cat([x, x])),
    ("where", lambda x, y: mg.where(x > 0, x, y)),
    ("to", lambda x, y: x.float()),
]


@pytest.mark.parametrize("name, op", GRAD_FN_NAMES, ids=[n for n, _ in GRAD_FN_NAMES])
def test_grad_fn_names_the_op(name, op):
    assert op(leaf(2, 4), leaf(4, seed=1)).grad_fn == name


# ---- in-place changes are seen through views and optimizer steps (as torch's version counters) ----
MODIFIED = "modified by an inplace operation"


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("make_optimizer", [lambda ps, b: mg.optim.SGD(ps, lr=0.1, backend=b),
                                            lambda ps, b: mg.optim.Adam(ps, lr=0.1, backend=b)])
def test_optimizer_step_between_forward_and_backward_is_refused(backend, make_optimizer):
    lin = mg.nn.Linear(3, 2)
    x = Tensor(np.ones((4, 3), np.float32), requires_grad=True)
    opt = make_optimizer(lin.parameters(), backend)
    for p in lin.parameters():
        p.grad = np.ones_like(p.numpy())
    for _ in range(2):  # the short path (state exists) as well as the first step
        y = lin(x).sum()
        opt.step()
        with pytest.raises(RuntimeError, match=MODIFIED + ".*'linear'"):
            y.backward()
    y = lin(x).sum()  # a graph built after the step is fine
    y.backward()
    assert np.array_equal(x.grad, np.broadcast_to(lin.weight.numpy().sum(0), (4, 3)))


def test_in_place_through_a_view_is_seen_by_the_base():
    w = leaf(2)
    a = Tensor(np.array([3.0, 4.0]))
    y = (w * a).sum()
    with mg.no_grad():
        a[0:2].mul_(10)  # torch: gradient would silently be [30, 40] without the shared version
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


@pytest.mark.parametrize("make_view", [lambda a: a.reshape(1, 2), lambda a: a.detach(), lambda a: a[None],
                                       lambda a: Tensor(a.numpy()), lambda a: a.view(2, 1).transpose(0, 1)])
def test_base_changed_after_a_view_was_used(make_view):
    w = leaf(2)
    a = Tensor(np.array([3.0, 4.0]))
    y = (w * make_view(a).reshape(2)).sum()
    a.mul_(10)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_changes_to_other_memory_are_not_reported():
    w = leaf(2)
    a = Tensor(np.array([[3.0, 4.0], [5.0, 6.0]]))
    column = a.T.reshape(4)[:2]  # a transposed reshape copies: its memory is not a's
    y = (w * column).sum()
    a.mul_(10)
    Tensor(np.ones(2)).add_(1)
    y.backward()
    assert np.array_equal(w.grad, [3.0, 5.0])


def test_version_entries_go_with_their_memory():
    import gc
    from minigrad.autograd import engine
    before = len(engine._changed_at)
    for _ in range(100):
        Tensor(np.ones(3)).add_(1)
    gc.collect()
    assert len(engine._changed_at) == before


def test_torch_refuses_the_same_three_cases():
    torch = pytest.importorskip("torch")
    lin = torch.nn.Linear(3, 2)
    x = torch.ones(4, 3, requires_grad=True)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    for p in lin.parameters():
        p.grad = torch.ones_like(p)
    y = lin(x).sum()
    opt.step()
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()
    w, a = torch.ones(2, requires_grad=True), torch.tensor([3.0, 4.0])
    y = (w * a).sum()
    a[0:2].mul_(10)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()
    b = a.reshape(1, 2)
    y = (w * b).sum()
    a.mul_(10)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_post_accumulate_grad_hook_sees_the_accumulated_gradient():
    import copy
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * w).sum().backward()  # two uses of w: the hook runs once, after both contributions are in
    (3 * w).sum().backward()
    assert seen == [[2.0, 4.0], [5.0, 7.0]]
    assert copy.deepcopy(w)._post_accumulate_hooks is None  # hooks stay with who registered them, as torch's
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
        mg.tensor([1.0]).register_post_accumulate_grad_hook(print)
