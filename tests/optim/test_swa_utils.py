"""minigrad.optim.swa_utils: AveragedModel (SWA, EMA, buffers), SWALR and update_bn against closed
forms and, where installed, torch.optim.swa_utils on copies of the same weights; the averaging
kernels against their NumPy twins."""
import copy
import math

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn as nn
import minigrad.optim as optim
from minigrad import _C
from minigrad.optim import kernels_numpy
from minigrad.optim.swa_utils import (SWALR, AveragedModel, get_ema_avg_fn, get_ema_multi_avg_fn, get_swa_avg_fn,
                                      get_swa_multi_avg_fn, update_bn)

from optim_cases import SIZES


def net():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double()


def randomize(model, rng, twin=None):
    """New random values in every parameter and buffer of ``model`` (and the same in the torch ``twin``)."""
    for name, value in model.state_dict().items():
        data = model.get_parameter(name) if name.endswith(("weight", "bias")) else model.get_buffer(name)
        new = rng.integers(0, 50, data.shape) if data.dtype.kind == "i" else rng.standard_normal(data.shape)
        data.numpy()[...] = new
    if twin is not None:
        copy_into(twin, model)


def copy_into(twin, model):
    import torch
    twin.load_state_dict({k: torch.from_numpy(np.array(v.numpy())) for k, v in model.state_dict().items()})


# ---- closed forms --------------------------------------------------------------------------------------

def random_models(count, seed):
    rng = np.random.default_rng(seed)
    models = [net() for _ in range(count)]
    for model in models:
        randomize(model, rng)
    return models


def averaged_after(models, **options):
    averaged = AveragedModel(models[0], **options)
    for model in models:
        averaged.update_parameters(model)
    return averaged


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_swa_is_the_mean_of_the_models(backend):
    models = random_models(4, seed=0)
    averaged = averaged_after(models, backend=backend)
    assert int(averaged.n_averaged.item()) == 4
    for name, p in averaged.module.named_parameters():
        mean = np.mean([m.get_parameter(name).numpy() for m in models], axis=0)
        np.testing.assert_allclose(p.numpy(), mean, rtol=1e-14, atol=1e-14)
    for name, b in averaged.module.named_buffers():  # without use_buffers: the last model's
        assert b.numpy().tobytes() == models[-1].get_buffer(name).numpy().tobytes()


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
def test_ema_with_buffers_by_formula(backend):
    models = random_models(3, seed=1)
    averaged = averaged_after(models, multi_avg_fn=get_ema_multi_avg_fn(0.75, backend=backend), use_buffers=True)
    for name, value in averaged.module.state_dict().items():
        a, b, c = (m.state_dict()[name].numpy() for m in models)
        expected = 0.75 * (0.75 * a + 0.25 * b) + 0.25 * c
        if value.dtype.kind == "i":  # truncated at every update, as torch's
            expected = np.trunc(0.75 * np.trunc(0.75 * a + 0.25 * b) + 0.25 * c)
        np.testing.assert_allclose(value.numpy(), expected, rtol=1e-14, atol=1e-14, err_msg=name)


def test_avg_fn_and_multi_avg_fn_are_exclusive_and_decay_is_checked():
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        AveragedModel(net(), avg_fn=get_swa_avg_fn(), multi_avg_fn=get_swa_multi_avg_fn())
    for make in (get_ema_multi_avg_fn, get_ema_avg_fn):
        with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\]"):
            make(1.5)


def test_averaged_model_forward_state_dict_and_deep_copy():
    model = net()
    averaged = AveragedModel(model)
    assert averaged.module is not model and "n_averaged" in averaged.state_dict()
    assert "module.0.weight" in averaged.state_dict()
    x = mg.tensor(np.ones((2, 4)))
    model.eval()
    averaged.eval()
    np.testing.assert_array_equal(averaged(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel, scalars", [("lerp", dict(weight=0.3)), ("lerp", dict(weight=-2.5)),
                                             ("running_mean", dict(count=7.0))])
def test_averaging_kernels_match_their_twins_and_formula(kernel, scalars, dtype):
    rng = np.random.default_rng(2)
    starts = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    ends = [rng.standard_normal(n).astype(dtype) for n in SIZES]
    twins = [s.copy() for s in starts]
    expected = [s.astype(np.float64) for s in starts]
    getattr(_C, kernel)(starts, ends, **scalars)
    getattr(kernels_numpy, kernel)(twins, ends, **scalars)
    for s, t, e, end in zip(starts, twins, expected, ends):
        assert s.tobytes() == t.tobytes()
        value = e + (end - e) * scalars["weight"] if kernel == "lerp" else e + (end - e) / scalars["count"]
        np.testing.assert_allclose(s, value, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-5)


@pytest.mark.parametrize("threads", [1, 2])
def test_averaging_kernels_are_bitwise_identical_across_threads(threads):
    rng = np.random.default_rng(3)
    values = rng.standard_normal(200_003).astype(np.float32)
    results = []
    saved = mg.get_num_threads()
    try:
        for n in (1, threads):
            mg.set_num_threads(n)
            mean, ema = np.zeros_like(values), np.ones_like(values)
            _C.running_mean([mean], [values], count=3.0)
            _C.lerp([ema], [values], weight=0.001)
            results.append(mean.tobytes() + ema.tobytes())
    finally:
        mg.set_num_threads(saved)
    assert results[0] == results[1]


# ---- SWALR ---------------------------------------------------------------------------------------------

def swalr_lrs(scheduler_module, optimizer, steps=8, **options):
    scheduler = scheduler_module.SWALR(optimizer, **options)
    lrs = [scheduler.get_last_lr()]
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr())
    return lrs


@pytest.mark.parametrize("options", [dict(swa_lr=0.05), dict(swa_lr=[0.05, 0.2], anneal_epochs=3),
                                     dict(swa_lr=0.01, anneal_epochs=0), dict(swa_lr=0.02, anneal_epochs=1),
                                     dict(swa_lr=0.3, anneal_epochs=4, anneal_strategy="linear")])
def test_swalr_same_lrs_as_torch(options):
    torch = pytest.importorskip("torch")
    import torch.optim.swa_utils as torch_swa
    import minigrad.optim.swa_utils as swa
    ours = optim.SGD([{"params": [mg.Parameter(np.zeros(1))]}, {"params": [mg.Parameter(np.zeros(1))], "lr": 0.5}],
                     lr=0.1)
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)]},
                              {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.5}], lr=0.1)
    expected = swalr_lrs(torch_swa, theirs, **options)
    got = swalr_lrs(swa, ours, **options)
    np.testing.assert_allclose(got, expected, rtol=1e-15)


def test_swalr_closed_form_validation_and_resume():
    opt = optim.SGD([mg.Parameter(np.zeros(1))], lr=1.0)
    scheduler = SWALR(opt, swa_lr=0.0, anneal_epochs=2, anneal_strategy="linear")
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(3):
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    assert lrs == pytest.approx([1.0, 0.5, 0.0, 0.0], abs=1e-15)  # linear from 1 to 0 in two steps, then held
    with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got cosine"):
        SWALR(opt, swa_lr=0.1, anneal_strategy="cosine")
    with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
        SWALR(opt, swa_lr=0.1, anneal_epochs=-1)
    with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
        SWALR(opt, swa_lr=[0.1, 0.2])

    opt = optim.SGD([mg.Parameter(np.zeros(1))], lr=1.0)
    scheduler = SWALR(opt, swa_lr=0.1, anneal_epochs=5)
    scheduler.step()
    saved = copy.deepcopy(scheduler.state_dict())
    straight = [scheduler.step() or scheduler.get_last_lr()[0] for _ in range(3)]
    opt.param_groups[0]["lr"] = saved["_last_lr"][0]
    resumed = SWALR(opt, swa_lr=0.1, anneal_epochs=5, anneal_strategy="linear")
    resumed.load_state_dict(saved)
    assert [resumed.step() or resumed.get_last_lr()[0] for _ in range(3)] == straight
    assert math.isclose(straight[-1], 0.1 + 0.9 * (1 + math.cos(math.pi * 4 / 5)) / 2, rel_tol=1e-12)


# ---- against torch.optim.swa_utils ---------------------------------------------------------------------

def torch_net(model):
    torch = pytest.importorskip("torch")
    twin = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                               torch.nn.Linear(8, 3)).double()
    copy_into(twin, model)
    return twin


AVERAGING = {  # name: (minigrad options, torch options), each made fresh
    "swa": lambda m, t, backend: (dict(backend=backend), {}),
    "ema": lambda m, t, backend: (dict(multi_avg_fn=get_ema_multi_avg_fn(0.9, backend=backend)),
                                  dict(multi_avg_fn=t.get_ema_multi_avg_fn(0.9))),
    "swa-multi": lambda m, t, backend: (dict(multi_avg_fn=get_swa_multi_avg_fn(backend=backend)),
                                        dict(multi_avg_fn=t.get_swa_multi_avg_fn())),
    "ema-avg-fn": lambda m, t, backend: (dict(avg_fn=get_ema_avg_fn(0.8)), dict(avg_fn=t.get_ema_avg_fn(0.8))),
    "swa-avg-fn": lambda m, t, backend: (dict(avg_fn=get_swa_avg_fn()), dict(avg_fn=t.get_swa_avg_fn())),
}


@pytest.mark.parametrize("backend", ["cpp", "numpy"])
@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("averaging", sorted(AVERAGING))
def test_averaged_model_same_as_torch(averaging, use_buffers, backend):
    torch = pytest.importorskip("torch")
    import torch.optim.swa_utils as torch_swa
    if averaging == "swa-multi" and use_buffers:
        pytest.skip("torch's SWA multi_avg_fn raises on integer buffers (addcdiv); ours truncates")
    rng = np.random.default_rng(4)
    model = net()
    twin = torch_net(model)
    ours_options, torch_options = AVERAGING[averaging](model, torch_swa, backend)
    ours = AveragedModel(model, use_buffers=use_buffers, **ours_options)
    theirs = torch_swa.AveragedModel(twin, use_buffers=use_buffers, **torch_options)
    for _ in range(5):
        randomize(model, rng, twin)
        ours.update_parameters(model)
        theirs.update_parameters(twin)
    expected = theirs.state_dict()
    got = ours.state_dict()
    assert list(got) == list(expected)
    for name, value in got.items():
        np.testing.assert_allclose(value.numpy(), expected[name].numpy(), rtol=1e-13, atol=1e-13, err_msg=name)


def test_update_bn_same_as_torch():
    torch = pytest.importorskip("torch")
    import torch.optim.swa_utils as torch_swa
    rng = np.random.default_rng(5)
    model = net()
    randomize(model, rng)
    twin = torch_net(model)
    batches = [rng.standard_normal((6, 4)) for _ in range(4)]
    model.eval()
    model[1].momentum = 0.3
    twin[1].momentum = 0.3
    update_bn([(mg.tensor(x), mg.tensor(np.zeros(6))) for x in batches], model)
    torch_swa.update_bn([(torch.from_numpy(x), torch.zeros(6)) for x in batches], twin)
    for name, value in twin.state_dict().items():
        np.testing.assert_allclose(model.state_dict()[name].numpy(), value.numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=name)
    assert not model.training and model[1].momentum == 0.3


def test_update_bn_is_the_plain_mean_of_batch_statistics():
    model = nn.Sequential(nn.BatchNorm1d(2)).double()
    model[0].running_mean.numpy()[...] = 7.0
    batches = [np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[4.0, 5.0], [6.0, 9.0]])]
    update_bn([mg.tensor(b) for b in batches], model)
    np.testing.assert_allclose(model[0].running_mean.numpy(), [(1 + 5) / 2, (2 + 7) / 2])
    np.testing.assert_allclose(model[0].running_var.numpy(), [(2 + 2) / 2, (2 + 8) / 2])  # unbiased variances
    assert int(model[0].num_batches_tracked.item()) == 2
    update_bn([], nn.Sequential(nn.Linear(2, 2)))  # no batch norm: nothing to do
