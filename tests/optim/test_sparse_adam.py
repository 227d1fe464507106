"""SparseAdam: torch's trajectories on row-sparse gradients (repeated rows, rows never touched), the C++
kernel against its NumPy twin, bitwise identity across threads and SIMD paths, state_dict resume,
torch's errors, and bad arrays refused before any write."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import _C, nn, optim
from minigrad.optim import kernels_numpy
from minigrad.sparse import sparse_coo_tensor

KERNELS = [_C, kernels_numpy]
TOLERANCE = {np.float64: 1e-10, np.float32: 1e-4}
SHAPES = [(50, 3), (1, 1), (7,), (40, 2, 3), (2000, 67)]  # incl. 1-D (rows of width 1) and ≥1e5 elements


def random_grads(shape, dtype, steps, seed=1):
    """Per step (rows, values): repeated rows, and rows 0..shape[0]//5 never touched."""
    rng = np.random.default_rng(seed)
    n = shape[0]
    for step in range(steps):
        k = int(rng.integers(0, 2 * n + 2)) if step % 7 else 0  # some steps have an empty gradient
        rows = rng.integers(n // 5, n, size=k) if n > 1 else np.zeros(k, np.int64)
        yield rows.astype(np.int64), rng.standard_normal((k,) + shape[1:]).astype(dtype)


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("options", [{}, dict(lr=0.05, betas=(0.8, 0.9), eps=1e-6, maximize=True)],
                         ids=["default", "options"])
def test_same_trajectory_as_torch(shape, dtype, backend, options):
    torch = pytest.importorskip("torch")
    start = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    ours, theirs = mg.Parameter(start.copy()), torch.nn.Parameter(torch.from_numpy(start.copy()))
    opt, ref = optim.SparseAdam([ours], **options, backend=backend), torch.optim.SparseAdam([theirs], **options)
    steps = 40 if dtype == np.float64 else 10
    for rows, values in random_grads(shape, dtype, steps):
        ours.grad = sparse_coo_tensor(rows[None], values, shape)
        theirs.grad = torch.sparse_coo_tensor(torch.from_numpy(rows[None]), torch.from_numpy(values), shape,
                                              check_invariants=True)
        opt.step()
        ref.step()
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=tol, atol=tol)
    for key in ("exp_avg", "exp_avg_sq"):
        np.testing.assert_allclose(opt.state[ours][key], ref.state[theirs][key].numpy(), rtol=tol, atol=tol)
    assert opt.state[ours]["step"] == ref.state[theirs]["step"] == steps
    untouched = slice(0, shape[0] // 5)
    assert (ours.numpy()[untouched] == start[untouched]).all()  # rows never in a gradient never move


def kernel_arrays(shape=(300, 40), k=120, dtype=np.float32, tensors=3, seed=0):
    rng = np.random.default_rng(seed)
    lists = [[], [], [], [], []]
    for _ in range(tensors):
        lists[0].append(rng.standard_normal(shape).astype(dtype))
        lists[1].append(rng.standard_normal(shape).astype(dtype))
        lists[2].append(rng.random(shape).astype(dtype))
        lists[3].append(np.sort(rng.choice(shape[0], size=min(k, shape[0]), replace=False)).astype(np.int64))
        lists[4].append(rng.standard_normal((len(lists[3][-1]),) + shape[1:]).astype(dtype))
    return lists


SCALARS = dict(beta1=0.9, beta2=0.999, eps=1e-8, step_size=1e-2, maximize=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape, k", [((300, 40), 120), ((5000, 33), 4001), ((1, 1), 1), ((9,), 4), ((4, 3), 0)])
@pytest.mark.parametrize("maximize", [False, True])
def test_cpp_matches_numpy_twin(dtype, shape, k, maximize):
    ours, twin = kernel_arrays(shape, k, dtype), kernel_arrays(shape, k, dtype)
    for _ in range(3):
        _C.sparse_adam(*ours, **{**SCALARS, "maximize": maximize})
        kernels_numpy.sparse_adam(*twin, **{**SCALARS, "maximize": maximize})
    for a, b in zip(sum(ours[:3], []), sum(twin[:3], [])):
        np.testing.assert_array_equal(a, b)


@pytest.fixture
def restore_threads_and_simd():
    threads, policy, simd = _C.get_num_threads(), _C.get_thread_policy(), _C.build_info()["simd"]
    yield
    _C.set_num_threads(threads), _C.set_thread_policy(policy), _C.set_simd(simd)


def test_bitwise_identical_across_threads_and_simd(restore_threads_and_simd):
    results = []
    _C.set_thread_policy("fixed")
    for simd in _C.build_info()["simd_supported"]:
        for threads in (1, 2):
            _C.set_simd(simd)
            _C.set_num_threads(threads)
            lists = kernel_arrays((20000, 16), 15000, np.float32, tensors=2)  # above the grain: a team
            for _ in range(3):
                _C.sparse_adam(*lists, **SCALARS)
            results.append(b"".join(a.tobytes() for a in sum(lists[:3], [])))
    assert len(set(results)) == 1


def spoiled(mutate):
    lists = kernel_arrays(tensors=2)
    mutate(lists)
    return lists


BAD = [
    (lambda l: l[3].__setitem__(1, l[3][1].astype(np.int32)), TypeError, "indices\\[1\\] has dtype int32"),
    (lambda l: l[4].__setitem__(1, l[4][1].astype(np.float64)), TypeError, "values\\[1\\] has dtype float64"),
    (lambda l: l[4].__setitem__(1, l[4][1][:-1]), ValueError, "values\\[1\\] has shape"),
    (lambda l: l[3].__setitem__(1, l[3][1][::-1].copy()), ValueError, "not strictly increasing"),
    (lambda l: l[3][1].__setitem__(3, l[3][1][2]), ValueError, "not strictly increasing"),
    (lambda l: l[3][1].__setitem__(-1, 300), ValueError, "out of range"),
    (lambda l: l[3][1].__setitem__(0, -1), ValueError, "out of range"),
    (lambda l: l[4].__setitem__(1, np.asfortranarray(l[4][1])), ValueError, "not C-contiguous"),
    (lambda l: l[4].__setitem__(1, l[0][1][:120]), ValueError, "overlaps an array the kernel updates"),
    (lambda l: l[2].__setitem__(1, l[2][1][:, :20]), ValueError, "exp_avg_sqs\\[1\\] has shape"),
    (lambda l: l[0][1].setflags(write=False), ValueError, "params\\[1\\] is read-only"),
    (lambda l: l[3].pop(), ValueError, "indices has 1 arrays but params has 2"),
    (lambda l: l[3].__setitem__(1, list(l[3][1])), TypeError, "must be a numpy.ndarray"),
]


@pytest.mark.parametrize("kernels", KERNELS, ids=["cpp", "numpy"])
@pytest.mark.parametrize("mutate, error, message", BAD)
def test_bad_arrays_raise_before_any_write(kernels, mutate, error, message):
    lists = spoiled(mutate)
    before = [np.array(a) for a in sum(lists[:3], [])]
    with pytest.raises(error, match=message):
        kernels.sparse_adam(*lists, **SCALARS)
    for a, b in zip(sum(lists[:3], []), before):
        assert a.tobytes() == b.tobytes()


def test_validation_and_dense_gradient_errors_as_torch():
    torch = pytest.importorskip("torch")
    for options in [dict(lr=0.0), dict(lr=-1.0), dict(eps=0.0), dict(betas=(1.0, 0.9)), dict(betas=(0.9, -0.1))]:
        with pytest.raises(ValueError) as theirs:
            torch.optim.SparseAdam([torch.nn.Parameter(torch.ones(2))], **options)
        with pytest.raises(ValueError) as ours:
            optim.SparseAdam([mg.Parameter(np.ones(2))], **options)
        assert str(ours.value) == str(theirs.value)
    p = mg.Parameter(np.ones((3, 2)))
    p.grad = np.ones((3, 2))
    with pytest.raises(RuntimeError, match="^SparseAdam does not support dense gradients, please consider Adam inst"):
        optim.SparseAdam([p]).step()
    assert (p.numpy() == 1).all()
    defaults = optim.SparseAdam([p]).defaults
    assert defaults == {k: v for k, v in torch.optim.SparseAdam([torch.ones(1)]).defaults.items() if k in defaults}


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_state_dict_resume_is_exact(backend):
    def run(steps, resume_at=None):
        p = mg.Parameter(np.random.default_rng(0).standard_normal((30, 4)))
        opt = optim.SparseAdam([p], lr=0.01, backend=backend)
        for step, (rows, values) in enumerate(random_grads((30, 4), np.float64, steps)):
            if step == resume_at:
                saved = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in opt.state[p].items()}
                p = mg.Parameter(p.numpy().copy())
                opt = optim.SparseAdam([p], lr=0.01, backend=backend)
                opt.load_state_dict({"state": {0: saved}, "param_groups": [dict(opt.state_dict()["param_groups"][0])]})
            p.grad = sparse_coo_tensor(rows[None], values, (30, 4))
            opt.step()
        return p.numpy(), opt.state_dict()["state"][0]
    (straight, s1), (resumed, s2) = run(12), run(12, resume_at=5)
    assert straight.tobytes() == resumed.tobytes()
    assert s1["step"] == s2["step"] == 12 and s1["exp_avg_sq"].tobytes() == s2["exp_avg_sq"].tobytes()


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_loads_a_torch_state_dict(backend):
    torch = pytest.importorskip("torch")
    shape, start = (20, 3), np.random.default_rng(4).standard_normal((20, 3))
    grads = list(random_grads(shape, np.float64, 8, seed=5))
    theirs = torch.nn.Parameter(torch.from_numpy(start.copy()))
    ref = torch.optim.SparseAdam([theirs], lr=0.02)
    for step, (rows, values) in enumerate(grads):
        theirs.grad = torch.sparse_coo_tensor(torch.from_numpy(rows[None]), torch.from_numpy(values), shape,
                                              check_invariants=True)
        ref.step()
        if step == 3:  # convert torch's checkpoint through NumPy and continue from it
            ours = mg.Parameter(theirs.detach().numpy().copy())
            opt = optim.SparseAdam([ours], lr=0.5, backend=backend)
            sd = ref.state_dict()
            opt.load_state_dict({"state": {i: {k: v.numpy() if torch.is_tensor(v) else v for k, v in s.items()}
                                           for i, s in sd["state"].items()}, "param_groups": sd["param_groups"]})
        elif step > 3:
            ours.grad = sparse_coo_tensor(rows[None], values, shape)
            opt.step()
    assert opt.param_groups[0]["lr"] == 0.02 and opt.state[ours]["step"] == 8
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_rejected_step_creates_no_state_and_counts_no_step():
    good, bad = mg.Parameter(np.ones((3, 2))), mg.Parameter(np.ones((3, 2)))
    opt = optim.SparseAdam([good, bad])
    good.grad = sparse_coo_tensor([[1]], np.ones((1, 2)), (3, 2))
    bad.grad = np.ones((3, 2))
    with pytest.raises(RuntimeError):
        opt.step()
    assert not opt.state and (good.numpy() == 1).all()


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_embedding_model_with_sparse_adam_and_adam_trains_as_torch(backend):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    table, head = rng.standard_normal((40, 8)), rng.standard_normal((1, 8))
    batches = [(rng.integers(0, 30, size=(6, 5)), rng.standard_normal(6)) for _ in range(25)]

    emb, lin = nn.Embedding(40, 8, sparse=True, dtype=np.float64), nn.Linear(8, 1, dtype=np.float64)
    emb.weight.data.copy_(table), lin.weight.data.copy_(head), lin.bias.data.fill_(0.1)
    opts = [optim.SparseAdam(emb.parameters(), lr=0.01, backend=backend),
            optim.Adam(lin.parameters(), lr=0.01, backend=backend)]
    t_emb = torch.nn.Embedding(40, 8, sparse=True, dtype=torch.float64)
    t_lin = torch.nn.Linear(8, 1, dtype=torch.float64)
    with torch.no_grad():
        t_emb.weight.copy_(torch.from_numpy(table)), t_lin.weight.copy_(torch.from_numpy(head)), t_lin.bias.fill_(0.1)
    t_opts = [torch.optim.SparseAdam(t_emb.parameters(), lr=0.01),
              torch.optim.Adam(t_lin.parameters(), lr=0.01, foreach=False)]
    for index, target in batches:
        for o in opts + t_opts:
            o.zero_grad()
        loss = ((lin(emb(mg.tensor(index)).mean(1)).reshape(-1) - mg.tensor(target)) ** 2).mean()
        loss.backward()
        t_loss = ((t_lin(t_emb(torch.from_numpy(index)).mean(1)).reshape(-1) - torch.from_numpy(target)) ** 2).mean()
        t_loss.backward()
        for o in opts + t_opts:
            o.step()
    np.testing.assert_allclose(emb.weight.numpy(), t_emb.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(lin.weight.numpy(), t_lin.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert (emb.weight.numpy()[30:] == table[30:]).all()
