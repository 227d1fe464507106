"""The torch API surface of tensors as torch code touches it (issue 13): gradients and data as tensors,
devices and dtypes, torch's constructors and module-level functions, autograd.grad / Function, grad
modes, Generator, tensor hooks. Each behaviour against closed forms; where torch is installed, values,
gradients and errors against torch's."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import autograd, nn


def test_grad_and_data_are_tensors_over_the_same_memory():
    model = nn.Linear(3, 2)
    model(mg.randn(4, 3)).sum().backward()
    w = model.weight
    assert isinstance(w.grad, mg.Tensor) and isinstance(w.data, mg.Tensor)
    assert not w.data.requires_grad and w.data.grad_fn is None
    assert w.grad.norm().item() == pytest.approx(np.linalg.norm(w.grad.numpy()))
    assert w.grad.data.numpy() is w.grad.numpy()
    w.grad.zero_()
    assert not w.grad.numpy().any()
    before = w.numpy().copy()
    w.data.add_(1.0)  # through .data: the parameter's own memory
    np.testing.assert_array_equal(w.numpy(), before + 1)
    w.data = mg.zeros(2, 3)  # replaces the array, as torch's
    assert not w.numpy().any() and w.requires_grad


def test_grad_setter_checks_like_torch():
    p = mg.Parameter(np.zeros(3, np.float32))
    with pytest.raises(ValueError, match="assigned grad has data of a different size"):
        p.grad = mg.zeros(4)
    with pytest.raises(TypeError, match="assigned grad has data of a different type"):
        p.grad = mg.zeros(3, dtype=mg.float64)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor"):
        p.grad = [0.0, 0.0, 0.0]
    p.grad = np.ones(3, np.float32)  # an ndarray is wrapped, not copied
    assert isinstance(p.grad, mg.Tensor)


def test_state_dict_values_and_buffers_are_tensors_sharing_memory():
    bn = nn.BatchNorm1d(3)
    sd = bn.state_dict()
    assert all(isinstance(v, mg.Tensor) for v in sd.values())
    sd["weight"].copy_(mg.full((3,), 2.0))
    np.testing.assert_array_equal(bn.weight.numpy(), 2.0)
    assert isinstance(bn.running_mean, mg.Tensor)


def test_in_place_changes_through_data_are_still_caught():
    w = mg.Parameter(np.ones(3, np.float32))
    loss = (w * w).sum()
    w.data.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("args, kwargs, dtype", [
    (("cpu",), {}, "float32"), (("cpu", mg.float64), {}, "float64"), ((), {"device": "cpu", "dtype": mg.float64},
                                                                       "float64"),
    ((mg.device("cpu"),), {}, "float32"), ((mg.float64,), {}, "float64"), ((mg.zeros(1, dtype=mg.int64),), {}, "int64"),
    ((mg.float32, True), {}, "float32"),
])
def test_to_takes_torchs_forms(args, kwargs, dtype):
    x = mg.randn(2, 3)
    assert x.to(*args, **kwargs).dtype == np.dtype(dtype)


@pytest.mark.parametrize("call", [lambda x: x.to("cuda"), lambda x: x.to(device="cuda:0"), lambda x: x.cuda(),
                                  lambda x: mg.zeros(2, device="cuda"), lambda x: mg.tensor([1.0], device="mps"),
                                  lambda x: nn.Linear(2, 2).to("cuda")])
def test_other_devices_raise_naming_the_device(call):
    with pytest.raises(RuntimeError, match="'(cuda|mps)[:0-9]*' is not available: minigrad runs on the CPU only"):
        call(mg.ones(2))


def test_devices_and_cuda_namespace():
    assert mg.device("cpu") == "cpu" and str(mg.device("cuda", 1)) == "cuda:1" and mg.ones(1).device == mg.device("cpu")
    assert mg.ones(1).cpu().device.type == "cpu" and not mg.cuda.is_available() and mg.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="Expected one of"):
        mg.device("gpu")
    x = mg.ones(2)
    assert x.to("cpu") is x and x.to(copy=True) is not x


def test_dtype_aliases_and_conversions():
    assert (mg.float, mg.double, mg.long, mg.int, mg.bool, mg.half) == (
        np.float32, np.float64, np.int64, np.int32, np.bool_, np.float16)
    x = mg.tensor([1.5, -2.0])
    assert [x.float().dtype, x.double().dtype, x.long().dtype, x.int().dtype, x.bool().dtype, x.half().dtype] == [
        np.float32, np.float64, np.int64, np.int32, np.bool_, np.float16]
    assert x.type() == "minigrad.FloatTensor" and x.long().type() == "minigrad.LongTensor"
    assert x.is_floating_point() and not x.long().is_floating_point() and x.type(mg.float64).dtype == np.float64


def test_tensor_constructor_forms():
    assert mg.Tensor(2, 3).shape == (2, 3) and mg.Tensor(2, 3).dtype == np.float32 and not mg.Tensor(2, 3).numpy().any()
    assert mg.Tensor(4).shape == (4,) and mg.Tensor().shape == (0,)
    array = np.arange(3.0)
    assert mg.Tensor(array).numpy() is array  # no copy, as from_numpy
    with pytest.raises(TypeError, match="sizes"):
        mg.Tensor([1.0], [2.0])


def test_creation_functions():
    array = np.arange(4.0)
    t = mg.from_numpy(array)
    array[0] = 9
    assert t[0].item() == 9  # the same memory
    assert mg.as_tensor(t) is t and mg.as_tensor(array).numpy() is array
    np.testing.assert_allclose(mg.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(mg.logspace(0, 2, 3).numpy(), [1, 10, 100])
    with pytest.raises(TypeError, match="expected np.ndarray"):
        mg.from_numpy([1, 2])
    x = mg.ones(2, dtype=mg.float64)
    assert x.new_zeros(2, 3).dtype == np.float64 and x.new_tensor([1, 2]).dtype == np.float64


# ---- module-level functions and the new methods, against torch ---------------------------------------
RNG = np.random.default_rng(0)
A, B = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5))
BATCH = RNG.standard_normal((2, 3, 4))
CASES = {  # name: (function of (library, *tensors), input arrays); float64, differentiable in each input
    "exp": (lambda L, a: L.exp(a), [A]), "tanh": (lambda L, a: L.tanh(a), [A]),
    "sigmoid": (lambda L, a: L.sigmoid(a), [A]), "relu": (lambda L, a: L.relu(a), [A]),
    "sum_axis": (lambda L, a: L.sum(a, axis=1), [A]), "mean_keepdims": (lambda L, a: a.mean(1, keepdims=True), [A]),
    "max_dim": (lambda L, a: L.max(a, dim=1).values, [A]), "softmax": (lambda L, a: L.softmax(a, dim=1), [A]),
    "log_softmax_method": (lambda L, a: a.log_softmax(1), [A]), "flatten": (lambda L, a: L.flatten(a, 1), [BATCH]),
    "mm": (lambda L, a, b: L.mm(a, b), [A, B]), "bmm": (lambda L, a, b: L.bmm(a, b), [BATCH, BATCH.transpose(0, 2, 1)]),
    "einsum": (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [A, B]),
    "masked_fill": (lambda L, a: a.masked_fill(a > 0, 0.5), [A]), "repeat": (lambda L, a: a.repeat(2, 1, 3), [A]),
    "t": (lambda L, a: a.t(), [A]), "mT": (lambda L, a: a.mT, [BATCH]),
    "topk": (lambda L, a: a.topk(2, dim=1).values, [A]), "sort": (lambda L, a: a.sort(dim=0, descending=True)[0], [A]),
    "norm2": (lambda L, a: a.norm(), [A]), "norm1_dim": (lambda L, a: a.norm(1, dim=1), [A]),
    "norm3": (lambda L, a: a.norm(3, dim=0), [A]), "norm_inf": (lambda L, a: a.norm(float("inf"), dim=1), [A]),
    "clamp_min": (lambda L, a: L.clamp_min(a, 0.1), [A]),
    "where": (lambda L, a, b: L.where(a > b, a, b), [A, A * 0.5]),
    "cat": (lambda L, a, b: L.cat([a, b], 0), [A, A]), "stack": (lambda L, a, b: L.stack([a, b], 1), [A, A]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_function_matches_torch(name):
    torch = pytest.importorskip("torch")
    fn, arrays = CASES[name]
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = fn(mg, *ours), fn(torch, *theirs)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    weights = RNG.standard_normal(expected.shape)
    (out * mg.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["isnan", "isfinite", "logical_and", "and", "or", "xor", "invert", "any", "all",
                                  "argsort", "argmax_axis", "allclose", "equal"])
def test_non_differentiable_function_matches_torch(name):
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, np.nan, -2.0], [np.inf, 0.0, 3.0]])
    fns = {
        "isnan": lambda L, x: L.isnan(x), "isfinite": lambda L, x: x.isfinite(),
        "logical_and": lambda L, x: L.logical_and(x > 0, x < 2), "and": lambda L, x: (x > 0) & (x < 2),
        "or": lambda L, x: (x > 0) | (x < -1), "xor": lambda L, x: (x > 0) ^ (x < 2), "invert": lambda L, x: ~(x > 0),
        "any": lambda L, x: (x > 2).any(1), "all": lambda L, x: (x > -3).all(axis=0),
        "argsort": lambda L, x: L.argsort(x, dim=1), "argmax_axis": lambda L, x: x.argmax(axis=1),
        "allclose": lambda L, x: L.allclose(x[:, ::2], x[:, ::2] + 1e-9, equal_nan=True),
        "equal": lambda L, x: L.equal(x, x + 0),
    }
    if name in ("argsort", "argmax_axis"):  # nan orders differ between NumPy and torch: use finite data
        a = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    ours, theirs = fns[name](mg, mg.tensor(a)), fns[name](torch, torch.tensor(a))
    if isinstance(theirs, bool):
        assert ours is theirs
    else:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_bitwise_operators_refuse_floats():
    with pytest.raises(TypeError, match="bool or integer"):
        mg.ones(2) & mg.ones(2)


# ---- autograd ------------------------------------------------------------------------------------------
def test_autograd_grad_returns_without_accumulating():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.tensor([1.0], requires_grad=True)
    (gx,) = autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [2, 4, 6])
    assert x.grad is None
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        autograd.grad((x * 2).sum(), [x, y])
    gx, gy = autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None
    gx, gy = autograd.grad((x * 2).sum(), [x, y], materialize_grads=True)
    assert not gy.numpy().any()
    with pytest.raises(NotImplementedError, match="create_graph"):
        autograd.grad((x * x).sum(), x, create_graph=True)


def test_autograd_grad_and_backward_match_torch():
    torch = pytest.importorskip("torch")
    a = RNG.standard_normal(4)
    results = []
    for L in (mg, torch):
        x = L.tensor(a, requires_grad=True)
        y = (x * x).sum()
        z = x.exp()
        grads = L.autograd.grad([y, z], [x], grad_outputs=[None, L.tensor(a)], retain_graph=True)
        L.autograd.backward([y, z], [None, L.ones(4, dtype=L.float64)])
        results.append((grads[0].numpy(), x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


class ClampedExp(autograd.Function):
    """exp(x) with a backward of its own that also uses a saved tensor and an attribute on ctx."""

    @staticmethod
    def forward(ctx, x, scale):
        out = x.exp() * scale
        ctx.save_for_backward(out)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out, None


def test_function_with_its_own_backward():
    x = mg.tensor([0.0, 1.0], requires_grad=True, dtype=mg.float64)
    y = ClampedExp.apply(x, 2.0)
    assert y.grad_fn == "ClampedExp" and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([0.0, 1.0]))
    assert mg.gradcheck(lambda t: ClampedExp.apply(t, 3.0), [mg.tensor([0.3, -0.2], requires_grad=True,
                                                                         dtype=mg.float64)])


def test_grad_modes():
    x = mg.ones(2, requires_grad=True)
    with mg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    mg.set_grad_enabled(False)
    try:
        assert not mg.is_grad_enabled()
    finally:
        mg.set_grad_enabled(True)
    with mg.inference_mode():
        assert not (x * 2).requires_grad
    with mg.inference_mode(False):
        assert (x * 2).requires_grad

    @mg.inference_mode()
    def infer():
        return (x * 2).requires_grad
    assert infer() is False and mg.is_grad_enabled()


def test_generator_is_reproducible_and_accepted_where_torch_takes_one():
    a = mg.randn(3, generator=mg.Generator().manual_seed(7))
    b = mg.randn(3, generator=mg.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    g = mg.Generator()
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    state = g.get_state()
    first = g.random(2)
    np.testing.assert_array_equal(g.set_state(state).random(2), first)


def test_tensor_hooks_as_torch():
    x = mg.ones(3, requires_grad=True)
    handle = x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 6)
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 3)
    seen = []
    y = x * 2
    y.register_hook(lambda g: seen.append(g.numpy().copy()))
    (y * 5).sum().backward()
    np.testing.assert_array_equal(seen[0], 5)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        mg.ones(1).register_hook(lambda g: g)
    x.register_hook(lambda g: mg.ones(7))
    with pytest.raises(TypeError, match="must return None or a tensor of that shape"):
        (x * 1).sum().backward()


def test_module_paths_are_torchs():
    import minigrad.nn.functional as F
    from minigrad.utils.data import DataLoader

    assert F is mg.functional and mg.nn.functional is mg.functional and DataLoader is mg.data.DataLoader


def test_scalar_losses_through_autograd_grad_and_backward():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    (g,) = autograd.grad((x * x).sum(), x, grad_outputs=[mg.tensor(1.0)])
    np.testing.assert_array_equal(g.numpy(), [2, 4])
    autograd.backward((x * x).sum(), inputs=[x])
    np.testing.assert_array_equal(x.grad.numpy(), [2, 4])


def test_grad_mode_decorators_keep_their_mode():
    @mg.inference_mode(False)
    def recording():
        return mg.is_grad_enabled()

    with mg.no_grad():
        assert recording() is True and not mg.is_grad_enabled()


def test_function_backward_records_no_graph():
    seen = []

    class Square(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            out = g * 2 * x
            seen.append(out.requires_grad)
            return out

    x = mg.tensor([3.0], requires_grad=True)
    Square.apply(x).sum().backward()
    assert x.grad.item() == 6 and seen == [False]


def test_view_never_copies():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.t().view(-1)
    v = x.view(4)
    v[0] = 9.0
    assert x[0, 0].item() == 9


@pytest.mark.parametrize("a, b", [("int", 2.5), (1.0, 0.0), ("float", 0), ("int", 0), (True, False),
                                  ("double", "float")])
def test_where_promotes_as_torch(a, b):
    torch = pytest.importorskip("torch")
    arrays = {"int": np.array([1, 2]), "float": np.array([1.0, 2.0], np.float32), "double": np.array([1.0, 2.0])}
    ours = mg.where(mg.tensor([True, False]), *(mg.tensor(arrays[v]) if v in arrays else v for v in (a, b)))
    theirs = torch.where(torch.tensor([True, False]), *(torch.tensor(arrays[v]) if v in arrays else v for v in (a, b)))
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_small_torch_semantics():
    with pytest.raises(IndexError, match="Dimension out of range"):
        mg.ones(3).unsqueeze(5)
    assert (mg.device("cpu") == "foo") is False
    quotient = mg.tensor([1, 2]) / mg.tensor([2, 2])
    assert quotient.dtype == np.float32 and quotient.tolist() == [0.5, 1.0]
    similarity = mg.functional.cosine_similarity(mg.randn(4, 3), mg.randn(3), dim=-1)
    assert similarity.shape == (4,)
    buffer = __import__("io").BytesIO()
    mg.save({"w": mg.ones(2)}, buffer)
    buffer.seek(0)
    assert mg.load(buffer, map_location="cpu:0")["w"].tolist() == [1, 1]
    assert list(nn.CrossEntropyLoss(weight=[1.0, 2.0]).state_dict()) == ["weight"]
