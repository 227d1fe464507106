"""Torch idioms a user porting PyTorch code writes (issue 13's drop-in checklist), one case each: a small snippet
run with ``mg`` = minigrad, checked by closed form. Where torch is installed, the same snippets run with ``mg`` =
torch (so each one is real torch code) and, where they set ``out``, minigrad's result is compared to torch's."""
import io
import warnings

import numpy as np
import pytest

import minigrad as mg

X = np.array([[-1.5, 0.5, 2.0], [0.25, -0.75, 1.0]], np.float32)
T = True  # the snippet is torch code as written: the parity test runs it with torch as ``mg``
SCHED = "o = optim.SGD([p], lr=0.1, momentum=0.9); s = {}; o.step(); s.step(); out = o.param_groups[0]['lr']"

# (id, snippet, T if it runs under torch too). Snippets see mg, nn, F, optim, DataLoader, TensorDataset, np, io,
# pytest, warnings, X, x = mg.tensor(X), p = a Parameter [1., 2.], N (to numpy), sm (NumPy softmax), tmp_path.
# a layer's output shape on a 1×4×3×3 image
LAYER = "img = mg.ones(1, 4, 3, 3); out = {}; assert tuple(out.shape) == {}"
CASES = [
    ("linspace", "out = mg.linspace(0, 1, 5); assert N(out).tolist() == [0, .25, .5, .75, 1]", T),
    ("from_numpy", "a = X.copy(); out = mg.from_numpy(a); a[0, 0] = 9; assert N(out)[0, 0] == 9", T),
    ("as_tensor", "out = mg.as_tensor(X); assert out.dtype == mg.float32 and tuple(out.shape) == (2, 3)", T),
    ("Tensor(2, 3)", "t = mg.Tensor(2, 3); assert tuple(t.shape) == (2, 3) and t.dtype == mg.float32", T),
    ("FloatTensor", "out = mg.FloatTensor([1, 2]); assert out.dtype == mg.float32 and N(out).tolist() == [1, 2]", T),
    ("dtype aliases long/float/bool", "assert mg.long == mg.int64 and mg.float == mg.float32\n"
     "out = mg.tensor([1, 0]).to(mg.bool); assert out.dtype == mg.bool and N(out).tolist() == [True, False]", T),
    ("device('cpu')", "d = mg.device('cpu'); assert d.type == 'cpu' and str(d) == 'cpu'\n"
     "out = mg.zeros(2, device=d); assert out.device == d", T),
    ("cuda.is_available()", "assert mg.cuda.is_available() is False", T),
    ("x.to('cuda') raises", "with pytest.raises(RuntimeError, match='cuda'): x.to('cuda')", False),
    ("x.cpu()", "out = x.cpu(); assert isinstance(out, mg.Tensor) and np.array_equal(N(out), X)", T),
    ("x.type(float64)", "out = x.type(mg.float64); assert out.dtype == mg.float64", T),
    ("x.T / x.t()", "out = x.t(); assert N(out).tolist() == N(x.T).tolist() == X.T.tolist()", T),
    ("flatten(x, 1)", "out = mg.flatten(mg.ones(2, 3, 4), 1); assert tuple(out.shape) == (2, 12)", T),
    ("x.repeat(2, 1)", "out = x.repeat(2, 1); assert np.array_equal(N(out), np.tile(X, (2, 1)))", T),
    ("x.masked_fill", "out = x.masked_fill(x > 0, 0.); assert np.array_equal(N(out), np.where(X > 0, 0, X))", T),
    ("x.clamp_min(0)", "out = x.clamp_min(0); assert np.array_equal(N(out), np.maximum(X, 0))", T),
    ("x.softmax(dim=1)", "out = x.softmax(dim=1); assert np.allclose(N(out), sm(X))", T),
    ("x.log_softmax(dim=1)", "out = x.log_softmax(dim=1); assert np.allclose(N(out), np.log(sm(X)))", T),
    ("mg.softmax(x, dim=1)", "out = mg.softmax(x, dim=1); assert np.allclose(N(out), sm(X))", T),
    ("x.sum(axis=1)", "out = x.sum(axis=1); assert np.allclose(N(out), X.sum(1))", T),
    ("x.topk(2, dim=1)", "v, i = out = x.topk(2, dim=1)\n"
     "assert N(i).tolist() == [[2, 1], [2, 0]] and np.array_equal(N(v), -np.sort(-X)[:, :2])", T),
    ("x.sort(dim=1)", "v, i = out = x.sort(dim=1)\n"
     "assert np.array_equal(N(v), np.sort(X)) and np.array_equal(N(i), np.argsort(X))", T),
    ("mm / bmm", "out = mg.mm(x, x.t()), mg.bmm(mg.ones(2, 3, 4), mg.ones(2, 4, 5))\n"
     "assert np.allclose(N(out[0]), X @ X.T) and (N(out[1]) == 4).all() and tuple(out[1].shape) == (2, 3, 5)", T),
    ("einsum('ij,kj->ik')", "out = mg.einsum('ij,kj->ik', x, x); assert np.allclose(N(out), X @ X.T)", T),
    ("exp / log / tanh", "out = mg.exp(x), mg.log(x.abs()), mg.tanh(x)\n"
     "assert all(np.allclose(N(o), f(X)) for o, f in zip(out, (np.exp, lambda a: np.log(abs(a)), np.tanh)))", T),
    ("sum(x) / mean(x)", "out = mg.sum(x), mg.mean(x); assert np.allclose([N(o) for o in out], [X.sum(), X.mean()])",
     T),
    ("max(x, dim=1)", "r = mg.max(x, dim=1); v, i = r; out = v, i\n"
     "assert N(r.values).tolist() == [2, 1] and N(r.indices).tolist() == N(i).tolist() == [2, 2]", T),
    ("argmax(x, dim=1)", "out = mg.argmax(x, dim=1); assert N(out).tolist() == [2, 2]", T),
    ("allclose", "assert mg.allclose(x, x + 1e-9) is True and mg.allclose(x, x + 1) is False", T),
    ("equal", "assert mg.equal(x, x.clone()) is True and mg.equal(x, x + 1) is False", T),
    ("Generator().manual_seed(0)", "g1, g2 = mg.Generator().manual_seed(0), mg.Generator().manual_seed(0)\n"
     "assert np.array_equal(N(mg.randn(3, generator=g1)), N(mg.randn(3, generator=g2)))", T),
    ("set_grad_enabled(False)", "with mg.set_grad_enabled(False): y = p * 2\nassert not y.requires_grad\n"
     "mg.set_grad_enabled(False); z = p * 2; mg.set_grad_enabled(True); assert not z.requires_grad", T),
    ("inference_mode()", "with mg.inference_mode(): y = p * 2\nassert not y.requires_grad and mg.is_grad_enabled()",
     T),
    ("(x > 0) & (x < 1)", "out = (x > 0) & (x < 1); assert N(out).tolist() == ((X > 0) & (X < 1)).tolist()", T),
    ("~(x > 0)", "out = ~(x > 0); assert N(out).tolist() == (X <= 0).tolist()", T),
    ("(x > 0).any() / .all()", "assert bool((x > 0).any()) and not bool((x > 0).all()) and bool((x > -2).all())", T),
    ("x.isnan().any()", "assert not bool(x.isnan().any()) and bool(mg.tensor([1., float('nan')]).isnan().any())", T),
    ("isfinite(x)", "out = mg.isfinite(mg.tensor([1., float('inf'), float('nan')]))\n"
     "assert N(out).tolist() == [True, False, False]", T),
    ("y.masked_fill_", "out = x.clone(); r = out.masked_fill_(out < 0, 0)\n"
     "assert r is out and np.array_equal(N(out), np.maximum(X, 0))", T),
    ("in-place on a leaf requiring grad", "with pytest.raises(RuntimeError): p.add_(1)\n"
     "with mg.no_grad(): p.add_(1)\nassert N(p).tolist() == [2, 3]", T),
    ("autograd.grad", "(g,) = mg.autograd.grad((p * p).sum(), p); assert N(g).tolist() == [2, 4] and p.grad is None",
     T),
    ("p.grad.zero_() after backward", "(p * p).sum().backward(); assert N(p.grad).tolist() == [2, 4]\n"
     "p.grad.zero_(); assert N(p.grad).tolist() == [0, 0]", T),
    ("F.elu", "out = F.elu(x); assert np.allclose(N(out), np.where(X > 0, X, np.expm1(X)))", T),
    ("F.selu", "out = F.selu(x); a, s = 1.6732632423543772, 1.0507009873554805\n"
     "assert np.allclose(N(out), s * np.where(X > 0, X, a * np.expm1(X)))", T),
    ("F.mish", "out = F.mish(x); assert np.allclose(N(out), X * np.tanh(np.log1p(np.exp(X))))", T),
    ("F.hardtanh / relu6", "out = F.hardtanh(x), F.relu6(x * 4)\n"
     "assert np.allclose(N(out[0]), np.clip(X, -1, 1)) and np.allclose(N(out[1]), np.clip(4 * X, 0, 6))", T),
    ("F.softmax(x) without dim", "with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n"
     "    out = F.softmax(x)\nassert np.allclose(N(out), sm(X))", T),
    ("F.normalize", "out = F.normalize(x, dim=1); assert np.allclose(N(out), X / np.linalg.norm(X, axis=1)[:, None])",
     T),
    ("F.cosine_similarity", "out = F.cosine_similarity(x, x + 1, dim=1); a, b = X, X + 1\n"
     "assert np.allclose(N(out), (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1))", T),
    ("F.l1_loss / smooth_l1_loss", "z = mg.zeros(2, 3); out = F.l1_loss(x, z), F.smooth_l1_loss(x, z)\n"
     "a = abs(X); assert np.allclose([N(o) for o in out], [a.mean(), np.where(a < 1, a * a / 2, a - .5).mean()])", T),
    ("F.huber_loss", "out = F.huber_loss(x, mg.zeros(2, 3), delta=1.25); a = abs(X)\n"
     "assert np.isclose(N(out), np.where(a <= 1.25, a * a / 2, 1.25 * (a - .625)).mean())", T),
    ("F.kl_div", "t = mg.softmax(x + x * x, dim=1); out = F.kl_div(x.log_softmax(dim=1), t, reduction='batchmean')\n"
     "q = sm(X + X * X); assert np.isclose(N(out), (q * (np.log(q) - np.log(sm(X)))).sum() / 2)", T),
    ("sigmoid / tanh / relu", "out = mg.sigmoid(x), mg.tanh(x), mg.relu(x)\nassert all(np.allclose(N(o), f) for o, f "
     "in zip(out, (1 / (1 + np.exp(-X)), np.tanh(X), np.maximum(X, 0))))", T),
    ("nn.SiLU / ELU / Softplus / Mish", "out = tuple(m()(x) for m in (nn.SiLU, nn.ELU, nn.Softplus, nn.Mish))\n"
     "sp = np.log1p(np.exp(X)); want = X / (1 + np.exp(-X)), np.where(X > 0, X, np.expm1(X)), sp, X * np.tanh(sp)\n"
     "assert all(np.allclose(N(o), w) for o, w in zip(out, want))", T),
    ("nn.ReLU(inplace=True)", "out = nn.ReLU(inplace=True)(x.clone()); assert np.array_equal(N(out), np.maximum(X, 0))",
     T),
    ("nn.Dropout2d", "m = nn.Dropout2d(0.5); a = N(m(mg.ones(4, 8, 3, 3))).reshape(32, 9)\n"
     "assert set(a[:, 0]) <= {0, 2} and (a == a[:, :1]).all()\n"
     "m.eval(); assert (N(m(mg.ones(4, 8, 3, 3))) == 1).all()", T),
    ("nn.Unflatten", "out = nn.Unflatten(1, (2, 3))(mg.ones(4, 6)); assert tuple(out.shape) == (4, 2, 3)", T),
    ("nn.Conv2d(padding='same')", "c = nn.Conv2d(2, 4, 3, padding='same'); assert tuple(c(mg.ones(1, 2, 5, 5)).shape)"
     " == (1, 4, 5, 5)\nc = nn.Conv2d(1, 1, 4, padding='same', dilation=2)\n"
     "assert c(mg.ones(1, 1, 9, 9)).shape[-1] == 9",
     T),
    ("nn.MaxPool1d / AvgPool1d", "s = mg.arange(8.).reshape(1, 1, 8); out = nn.MaxPool1d(2)(s), nn.AvgPool1d(2)(s)\n"
     "assert N(out[0]).ravel().tolist() == [1, 3, 5, 7] and N(out[1]).ravel().tolist() == [.5, 2.5, 4.5, 6.5]", T),
    ("nn.BCELoss / SmoothL1Loss / HuberLoss / KLDivLoss", "s, t = mg.sigmoid(x), (x > 0).float()\n"
     "out = (nn.BCELoss()(s, t), nn.SmoothL1Loss()(x, t), nn.HuberLoss(delta=2.)(x, t),\n"
     "       nn.KLDivLoss(reduction='batchmean')(x.log_softmax(1), t.softmax(1)))\n"
     "q, y = 1 / (1 + np.exp(-X)), (X > 0)\n"
     "assert np.isclose(N(out[0]), -np.where(y, np.log(q), np.log(1 - q)).mean())\n"
     "assert all(o.dim() == 0 for o in out)", T),
    ("nn.init.trunc_normal_ / orthogonal_", "w = nn.Linear(40, 50).weight\n"
     "r = nn.init.trunc_normal_(w, std=1., a=-1., b=1.)\n"
     "assert r is w and abs(N(w)).max() <= 1 and N(w).std() > .4\n"
     "q = N(nn.init.orthogonal_(mg.empty(3, 5))); assert np.allclose(q @ q.T, np.eye(3), atol=1e-5)", T),
    ("nn.functional.relu", "out = nn.functional.relu(x); assert np.array_equal(N(out), np.maximum(X, 0))", T),
    ("nn.ParameterList", "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.ps = nn.ParameterList([nn.Parameter(mg.ones(2)) for _ in range(3)])\n"
     "m = M(); assert len(list(m.parameters())) == 3 and len(m.ps) == 3 and 'ps.2' in m.state_dict()", T),
    ("register_buffer(name, Tensor)", "class M(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
     "        self.register_buffer('running', mg.zeros(3))\n"
     "m = M(); assert isinstance(m.running, mg.Tensor) and list(m.state_dict()) == ['running']\n"
     "assert not list(m.parameters())", T),
    ("Module.to('cpu')", "m = nn.Linear(2, 2); assert m.to('cpu') is m and m.to(mg.device('cpu')) is m", T),
    ("Module.cpu() / .double() / .float()", "m = nn.Linear(2, 2); assert m.cpu() is m and m.double() is m\n"
     "assert m.weight.dtype == mg.float64; m.float(); assert m.weight.dtype == mg.float32", T),
    ("Module.register_forward_hook", "seen = []; m = nn.Linear(3, 2)\n"
     "h = m.register_forward_hook(lambda mod, inp, o: seen.append((mod is m, tuple(o.shape))))\n"
     "m(x); h.remove(); m(x); assert seen == [(True, (2, 2))]", T),
    ("nn.utils.parameters_to_vector", "m = nn.Linear(3, 2); v = nn.utils.parameters_to_vector(m.parameters())\n"
     "assert tuple(v.shape) == (8,); nn.utils.vector_to_parameters(v * 0, m.parameters()); assert not N(m.bias).any()",
     T),
    ("nn.utils.rnn.pad_sequence", "out = nn.utils.rnn.pad_sequence([mg.ones(2), mg.ones(3)], batch_first=True)\n"
     "assert N(out).tolist() == [[1, 1, 0], [1, 1, 1]]", T),
    ("mg.utils.data", "from minigrad.utils.data import DataLoader as DL, TensorDataset as TD\n"
     "assert DL is mg.utils.data.DataLoader and [N(b).tolist() for (b,) in DL(TD(mg.arange(3.)))] == [[0], [1], [2]]",
     False),
    ("DataLoader(num_workers=2)", "dl = DataLoader(TensorDataset(mg.arange(4.)), batch_size=2, num_workers=2)\n"
     "assert [N(b).tolist() for (b,) in dl] == [[0, 1], [2, 3]]", T),
    ("DataLoader(pin_memory=True)", "with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n"
     "    (b,) = next(iter(DataLoader(TensorDataset(mg.arange(4.)), batch_size=4, pin_memory=True)))\n"
     "assert N(b).tolist() == [0, 1, 2, 3]", T),
    ("DataLoader(generator=Generator())", "ds = TensorDataset(mg.arange(8.))\n"
     "run = lambda: [N(b).tolist()\n"
     "              for (b,) in DataLoader(ds, 4, shuffle=True, generator=mg.Generator().manual_seed(0))]\n"
     "a = run(); assert a == run() and sorted(a[0] + a[1]) == list(range(8))", T),
    ("save(whole model) raises",
     "with pytest.raises(TypeError, match='state_dict'): mg.save(nn.Linear(2, 2), io.BytesIO())",
     False),
    ("load(map_location='cpu')", "m, m2, f = nn.Linear(2, 2), nn.Linear(2, 2), io.BytesIO()\n"
     "mg.save(m.state_dict(), f)\n"
     "f.seek(0); m2.load_state_dict(mg.load(f, map_location='cpu')); assert mg.equal(m.weight, m2.weight)", T),
    ("load(weights_only=True)", "m, f = nn.Linear(2, 2), io.BytesIO()\n"
     "mg.save({'model': m.state_dict(), 'epoch': 3}, f)\n"
     "f.seek(0); ck = mg.load(f, map_location='cpu', weights_only=True)\n"
     "assert ck['epoch'] == 3 and mg.equal(ck['model']['bias'], m.bias)", T),
    ("save(file object)", "m = nn.Linear(2, 2)\nwith open(tmp_path / 'm.pt', 'wb') as f: mg.save(m.state_dict(), f)\n"
     "with open(tmp_path / 'm.pt', 'rb') as f: sd = mg.load(f)\nassert mg.equal(sd['weight'], m.weight)", T),
    ("x.to(device='cpu')", "out = x.to(device='cpu'); assert out.dtype == mg.float32\n"
     "assert x.to(device='cpu', dtype=mg.float64).dtype == mg.float64", T),
    ("x.to('cpu', float64)", "out = x.to('cpu', mg.float64); assert out.dtype == mg.float64", T),
    ("x.is_floating_point()", "assert x.is_floating_point() and not mg.tensor([1]).is_floating_point()", T),
    ("x.data.add_(1)", "w = nn.Linear(2, 2).weight; before = N(w).copy(); w.data.add_(1)\n"
     "assert np.array_equal(N(w), before + 1)", T),
    ("x.grad.norm() / x.norm()", "w = mg.tensor([3., 4.], requires_grad=True); (w * w).sum().backward()\n"
     "assert w.norm().item() == 5 and w.grad.norm().item() == 10", T),
    ("nn.Linear(2, 2)(ndarray)", "try:\n    nn.Linear(3, 2)(X)\nexcept TypeError as e:\n"
     "    assert 'must be Tensor, not ndarray' in str(e)\nelse:\n    raise AssertionError('no TypeError')", False),
    ("state_dict()['weight'].copy_", "m = nn.Linear(2, 2); sd = m.state_dict(); sd['weight'].copy_(mg.ones(2, 2))\n"
     "assert N(m.weight).tolist() == [[1, 1], [1, 1]]", T),
    ("nn.InstanceNorm2d", "out = nn.InstanceNorm2d(4)(mg.arange(36.).reshape(1, 4, 3, 3) ** 2)", T),
    ("optim.Adam(fused=True) / foreach=True", "for kw in ({'fused': True}, {'foreach': True}):\n"
     "    o = optim.Adam([p], **kw); (p * p).sum().backward(); o.step()", T),
    ("optim.LBFGS", "o = optim.LBFGS([p])\ndef closure():\n    o.zero_grad(); l = (p * p).sum()\n"
     "    l.backward(); return l\no.step(closure); out = p.detach(); assert np.abs(N(out)).max() < 1e-6", T),
    *[(f"lr_scheduler.{n}", SCHED.format(f"optim.lr_scheduler.{n}(o, {a})"), T) for n, a in (
        ("CosineAnnealingWarmRestarts", "T_0=2"), ("CyclicLR", "base_lr=0.01, max_lr=0.1, step_size_up=2"),
        ("SequentialLR", "[optim.lr_scheduler.LinearLR(o, 0.5, total_iters=2), optim.lr_scheduler.ExponentialLR(o, 0.9)"
                         "], milestones=[2]"),
        ("ConstantLR", "factor=0.5, total_iters=2"), ("PolynomialLR", "total_iters=4, power=2.0"))],
    *[(f"optim.{n}", f"o = optim.{n}([p]); (p * p).sum().backward(); o.step(); out = p.detach()", T)
      for n in ("Adamax", "NAdam", "RAdam", "ASGD", "Rprop")],
    *[(i, "img = mg.arange(36.).reshape(1, 4, 3, 3) ** 0.5\n" + c, T) for i, c in (
        ("nn.ConvTranspose2d", "m = nn.ConvTranspose2d(4, 2, 2, stride=2); nn.init.constant_(m.weight, 0.5)\n"
                               "nn.init.zeros_(m.bias); out = m(img)"),
        ("nn.Upsample", "out = nn.Upsample(scale_factor=2, mode='nearest')(img)"),
        ("F.interpolate(scale_factor=2)", "out = F.interpolate(img, scale_factor=2)"),
        ("F.conv_transpose2d", "out = F.conv_transpose2d(img, mg.ones(4, 2, 2, 2), stride=2)"),
        ("F.adaptive_avg_pool2d", "out = F.adaptive_avg_pool2d(img, 1)"),
        ("nn.AdaptiveAvgPool2d", "out = nn.AdaptiveAvgPool2d((1, 1))(img)"),
        ("nn.GroupNorm", "out = nn.GroupNorm(2, 4)(img)"),
        ("F.group_norm", "out = F.group_norm(img, 2)"))],
    ("optim.SparseAdam", "e = nn.Embedding(5, 3, sparse=True); o = optim.SparseAdam(e.parameters(), lr=0.1)\n"
     "with mg.no_grad(): e.weight.fill_(1.0)\n"
     "(e(mg.tensor([[0, 2], [2, 4]])) ** 2).sum().backward(); o.step(); out = e.weight.detach()", T),
    ("nn.LSTM(bidirectional=True, batch_first=True)", "y, (h, c) = nn.LSTM(3, 5, bidirectional=True, "
     "batch_first=True)(mg.ones(4, 3, 3))\nassert tuple(y.shape) == (4, 3, 10) and tuple(h.shape) == (2, 4, 5)", T),
    ("F.scaled_dot_product_attention", LAYER.format("F.scaled_dot_product_attention(img, img, img)", (1, 4, 3, 3)),
     T),
    *[(i, LAYER.format(e, s), False) for i, e, s in (  # (random weights: outputs not comparable with torch's)
        ("nn.MultiheadAttention", "nn.MultiheadAttention(3, 1, batch_first=True)(img[0], img[0], img[0])[0]",
         (4, 3, 3)),
        ("nn.TransformerEncoderLayer", "nn.TransformerEncoderLayer(3, 1, dim_feedforward=8, batch_first=True)(img[0])",
         (4, 3, 3)))],
]


def to_numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


def softmax_np(a):
    e = np.exp(a - a.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def namespace(lib, tmp_path):
    """What a snippet sees: ``lib`` (minigrad or torch) under minigrad's names."""
    data = lib.utils.data
    ns = dict(mg=lib, nn=lib.nn, F=lib.nn.functional, optim=lib.optim, DataLoader=data.DataLoader,
              TensorDataset=data.TensorDataset, np=np, io=io, pytest=pytest, warnings=warnings, X=X.copy(),
              N=to_numpy, sm=softmax_np, tmp_path=tmp_path)
    ns.update(x=lib.tensor(X.copy()), p=lib.nn.Parameter(lib.tensor([1.0, 2.0])))
    return ns


def run(code, lib, tmp_path):
    ns = namespace(lib, tmp_path)
    exec(compile(code, "<idiom>", "exec"), ns)
    return ns.get("out")


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c, _ in CASES])
def test_torch_idiom(code, tmp_path):
    run(code, mg, tmp_path)


def assert_same(a, b):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
        return
    a, b = to_numpy(a), to_numpy(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("idiom", [i for i, _, t in CASES if t])
def test_idiom_matches_torch(idiom, tmp_path):
    torch = pytest.importorskip("torch")
    code = {i: c for i, c, _ in CASES}
    expected = run(code[idiom], torch, tmp_path)  # the snippet is torch code: it runs as written
    got = run(code[idiom], mg, tmp_path)
    if expected is not None:
        assert_same(got, expected)
