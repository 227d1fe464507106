"""minigrad.distributions against torch.distributions: values and gradients of log_prob, entropy,
rsample and the KL, the shapes, the moments, the samples' statistics, and the errors."""
import math

import numpy as np
import pytest

import minigrad as mg
from minigrad import distributions as D

RNG = np.random.default_rng(0)
LOC, SCALE = RNG.standard_normal((4, 3)), RNG.random((4, 3)) + 0.2
LOGITS = RNG.standard_normal((4, 5))
PROBS = RNG.random((4, 5)) + 0.05
P = RNG.random((4, 3)) * 0.9 + 0.05


def both(name, *arrays):
    """The same parameters as minigrad and torch leaves (float64, requiring grad)."""
    torch = pytest.importorskip("torch")
    ours = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs, torch


# (name, how to build it from minigrad's or torch's distributions module and its parameters, parameters, a value)
CASES = {
    "normal": (lambda d, loc, scale: d.Normal(loc, scale), (LOC, SCALE), RNG.standard_normal((4, 3))),
    "normal-broadcast": (lambda d, loc, scale: d.Normal(loc, scale), (LOC[:1], SCALE), RNG.standard_normal((2, 4, 3))),
    "categorical-logits": (lambda d, logits: d.Categorical(logits=logits), (LOGITS,), RNG.integers(0, 5, (4,))),
    "categorical-probs": (lambda d, probs: d.Categorical(probs=probs), (PROBS,), RNG.integers(0, 5, (6, 4))),
    "bernoulli-probs": (lambda d, probs: d.Bernoulli(probs=probs), (P,), (RNG.random((4, 3)) < 0.5) * 1.0),
    "bernoulli-logits": (lambda d, logits: d.Bernoulli(logits=logits), (LOC,), (RNG.random((4, 3)) < 0.5) * 1.0),
    "independent-normal": (lambda d, loc, scale: d.Independent(d.Normal(loc, scale), 1), (LOC, SCALE),
                           RNG.standard_normal((4, 3))),
}


@pytest.mark.parametrize("case", CASES)
def test_log_prob_and_entropy_values_and_gradients_match_torch(case):
    build, arrays, value = CASES[case]
    ours, theirs, torch = both(case, *arrays)
    for method in ("log_prob", "entropy"):
        p, q = build(D, *ours), build(torch.distributions, *theirs)  # afresh: a backward frees a graph
        assert (p.batch_shape, p.event_shape) == (tuple(q.batch_shape), tuple(q.event_shape))
        ours_out = getattr(p, method)(mg.tensor(value)) if method == "log_prob" else p.entropy()
        theirs_out = getattr(q, method)(torch.tensor(value)) if method == "log_prob" else q.entropy()
        np.testing.assert_allclose(ours_out.numpy(), theirs_out.detach().numpy(), rtol=1e-12, atol=1e-12)
        weights = RNG.standard_normal(ours_out.shape)
        ours_grads = mg.autograd.grad((ours_out * mg.tensor(weights)).sum(), ours, allow_unused=True)
        theirs_grads = torch.autograd.grad((theirs_out * torch.tensor(weights)).sum(), theirs, allow_unused=True)
        for a, b in zip(ours_grads, theirs_grads):  # None where it does not depend on a parameter (an entropy on loc)
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES)
def test_moments_and_sample_shapes_match_torch(case):
    build, arrays, _ = CASES[case]
    ours, theirs, torch = both(case, *arrays)
    p, q = build(D, *ours), build(torch.distributions, *theirs)
    for moment in ("mean", "variance", "stddev", "mode"):
        np.testing.assert_allclose(getattr(p, moment).numpy(), getattr(q, moment).detach().numpy(), rtol=1e-12)
    for sample_shape in ((), (7,), (2, 3)):
        drawn = p.sample(sample_shape)
        assert drawn.shape == tuple(q.sample(sample_shape).shape) and not drawn.requires_grad
        assert p.support.check(drawn.numpy()).all()
        assert drawn.dtype == (np.int64 if "categorical" in case else np.float64)


def test_rsample_is_differentiable_in_loc_and_scale():
    loc, scale = mg.tensor(LOC, requires_grad=True), mg.tensor(SCALE, requires_grad=True)
    mg.manual_seed(3)
    x = D.Normal(loc, scale).rsample((5,))
    x.sum().backward()
    np.testing.assert_array_equal(loc.grad.numpy(), np.full(LOC.shape, 5.0))
    np.testing.assert_allclose(scale.grad.numpy(), ((x.numpy() - LOC) / SCALE).sum(0), rtol=1e-12)
    assert D.Independent(D.Normal(loc, scale), 1).has_rsample and not D.Categorical(logits=LOGITS).has_rsample


def test_samples_follow_the_distribution_and_the_seed():
    mg.manual_seed(0)
    probs = np.array([0.1, 0.2, 0.7])
    counts = np.bincount(D.Categorical(probs=mg.tensor(probs)).sample((20_000,)).numpy(), minlength=3)
    np.testing.assert_allclose(counts / 20_000, probs, atol=0.015)
    normal = D.Normal(mg.tensor(2.0), mg.tensor(3.0)).sample((20_000,)).numpy()
    assert abs(normal.mean() - 2) < 0.1 and abs(normal.std() - 3) < 0.1
    assert abs(D.Bernoulli(probs=mg.tensor(0.3)).sample((20_000,)).numpy().mean() - 0.3) < 0.015
    mg.manual_seed(7)
    first = D.Normal(mg.zeros(3), mg.ones(3)).sample()
    mg.manual_seed(7)
    np.testing.assert_array_equal(D.Normal(mg.zeros(3), mg.ones(3)).sample(), first)


KL_CASES = {
    "normal": (lambda d, a, b, c, e: d.Normal(a, b), lambda d, a, b, c, e: d.Normal(c, e), (LOC, SCALE, LOC[::-1],
                                                                                          SCALE[::-1])),
    "categorical": (lambda d, a, b: d.Categorical(logits=a), lambda d, a, b: d.Categorical(probs=b), (LOGITS, PROBS)),
    "bernoulli": (lambda d, a, b: d.Bernoulli(probs=a), lambda d, a, b: d.Bernoulli(logits=b), (P, LOC)),
    "independent": (lambda d, a, b, c, e: d.Independent(d.Normal(a, b), 1),
                    lambda d, a, b, c, e: d.Independent(d.Normal(c, e), 1), (LOC, SCALE, LOC[::-1], SCALE[::-1])),
}


@pytest.mark.parametrize("case", KL_CASES)
def test_kl_divergence_values_and_gradients_match_torch(case):
    make_p, make_q, arrays = KL_CASES[case]
    ours, theirs, torch = both(case, *(np.ascontiguousarray(a) for a in arrays))
    kl = D.kl_divergence(make_p(D, *ours), make_q(D, *ours))
    expected = torch.distributions.kl_divergence(make_p(torch.distributions, *theirs),
                                                 make_q(torch.distributions, *theirs))
    np.testing.assert_allclose(kl.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(mg.autograd.grad(kl.sum(), ours), torch.autograd.grad(expected.sum(), theirs)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


def test_kl_of_disjoint_support_is_infinite_and_of_the_same_distribution_zero():
    p, q = D.Categorical(probs=mg.tensor([0.5, 0.5, 0.0])), D.Categorical(probs=mg.tensor([0.0, 0.5, 0.5]))
    assert D.kl_divergence(p, q).item() == math.inf and D.kl_divergence(q, q).item() == 0.0
    assert D.kl_divergence(D.Bernoulli(probs=mg.tensor(1.0)), D.Bernoulli(probs=mg.tensor(0.0))).item() == math.inf
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and q "
                                                  "type Categorical"):
        D.kl_divergence(D.Normal(0.0, 1.0), q)


@pytest.mark.parametrize("build, error, message", [
    (lambda: D.Normal(mg.tensor([0.0, 1.0]), mg.tensor([1.0, -1.0])), ValueError,
     "Expected parameter scale (Tensor of shape (2,)) of distribution Normal(loc: (2,), scale: (2,)) to satisfy "
     "the constraint GreaterThan(lower_bound=0.0), but found invalid values:"),
    (lambda: D.Normal(mg.tensor([np.nan]), 1.0), ValueError, "to satisfy the constraint Real()"),
    (lambda: D.Categorical(), ValueError, "Either `probs` or `logits` must be specified, but not both."),
    (lambda: D.Categorical(probs=mg.tensor([0.5]), logits=mg.tensor([0.0])), ValueError,
     "Either `probs` or `logits` must be specified"),
    (lambda: D.Categorical(probs=mg.tensor(0.5)), ValueError, "`probs` parameter must be at least one-dimensional."),
    (lambda: D.Categorical(probs=mg.tensor([0.5, -0.5, 1.0])), ValueError, "the constraint Simplex()"),
    (lambda: D.Bernoulli(probs=mg.tensor([1.5])), ValueError,
     "the constraint Interval(lower_bound=0.0, upper_bound=1.0)"),
    (lambda: D.Categorical(logits=mg.zeros(3)).log_prob(mg.tensor([3])), ValueError,
     "Expected value argument (Tensor of shape (1,)) to be within the support (IntegerInterval(lower_bound=0, "
     "upper_bound=2)) of the distribution Categorical(logits: (3,)), but found invalid values:"),
    (lambda: D.Bernoulli(probs=mg.tensor([0.5])).log_prob(mg.tensor([0.5])), ValueError, "support (Boolean())"),
    (lambda: D.Normal(0.0, 1.0).log_prob(0.5), ValueError, "The value argument to log_prob must be a Tensor"),
    (lambda: D.Independent(D.Normal(mg.zeros(3), mg.ones(3)), 1).log_prob(mg.zeros(2)), ValueError,
     "Value is not broadcastable with batch_shape+event_shape: (2,) vs (3,)."),  # its base's check (torch's too)
    (lambda: D.Normal(mg.zeros(3), mg.ones(3)).log_prob(mg.zeros(2)), ValueError,
     "Value is not broadcastable with batch_shape+event_shape: (2,) vs (3,)."),
    (lambda: D.Independent(D.Normal(mg.zeros(3), mg.ones(3)), 2), ValueError,
     "Expected reinterpreted_batch_ndims <= len(base_distribution.batch_shape), actual 2 vs 1"),
    (lambda: D.Normal(0.0, 1.0).sample(3), TypeError, "sample_shape must be a tuple of ints"),
])
def test_bad_arguments_get_torchs_errors(build, error, message):
    with pytest.raises(error) as raised:
        build()
    assert message in str(raised.value)


def test_the_same_mistakes_are_errors_in_torch_too():
    torch = pytest.importorskip("torch")
    td = torch.distributions
    for build in (lambda: td.Normal(torch.tensor([0.0]), torch.tensor([-1.0])), lambda: td.Categorical(),
                  lambda: td.Categorical(probs=torch.tensor(0.5)),
                  lambda: td.Categorical(logits=torch.zeros(3)).log_prob(torch.tensor([3])),
                  lambda: td.Independent(td.Normal(torch.zeros(3), torch.ones(3)), 2)):
        with pytest.raises(ValueError):
            build()


def test_validate_args_false_skips_the_checks():
    assert D.Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    assert D.Categorical(logits=mg.zeros(3), validate_args=False).log_prob(mg.tensor([2])).shape == (1,)
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)


def test_ppo_style_use_a_diagonal_gaussian_policy_and_a_categorical_one():
    """What CleanRL's PPO does with them: log-probs and entropies summed over the action dimensions."""
    mean = mg.tensor(RNG.standard_normal((8, 3)), requires_grad=True)
    log_std = mg.tensor(np.full((1, 3), -0.5), requires_grad=True)
    policy = D.Normal(mean, log_std.exp().expand(8, 3))
    action = policy.sample()
    loss = -(policy.log_prob(action).sum(1).mean() + 0.01 * policy.entropy().sum(1).mean())
    loss.backward()
    assert mean.grad.shape == (8, 3) and log_std.grad.shape == (1, 3) and np.isfinite(log_std.grad.numpy()).all()
    logits = mg.tensor(RNG.standard_normal((8, 7)), requires_grad=True)
    categorical = D.Categorical(logits=logits)
    chosen = categorical.sample()
    assert chosen.shape == (8,) and categorical.log_prob(chosen).shape == (8,)
    np.testing.assert_allclose(categorical.enumerate_support().numpy()[:, 0], np.arange(7))


@pytest.mark.parametrize("make", [lambda a: D.Categorical(logits=a), lambda a: D.Bernoulli(logits=a)])
def test_entropy_keeps_its_gradient_after_a_sample(make):
    """sample() runs without the graph; the probabilities it computes on the way must not lose theirs."""
    logits = np.array([[0.3, -1.0, 2.0]])
    plain, sampled = mg.tensor(logits, requires_grad=True), mg.tensor(logits, requires_grad=True)
    expected = mg.autograd.grad(make(plain).entropy().sum(), [plain])[0]
    distribution = make(sampled)
    distribution.sample()
    np.testing.assert_allclose(mg.autograd.grad(distribution.entropy().sum(), [sampled])[0].numpy(),
                               expected.numpy(), rtol=1e-12)
    assert np.abs(expected.numpy()).max() > 0.05


def test_parameters_are_floating_point_and_named_when_wrong():
    normal = D.Normal(mg.tensor([0, 1]), 1.0)  # an integer loc becomes float32: its samples are not truncated
    assert normal.loc.dtype == np.float32 and not np.all(normal.sample((50,)).numpy() % 1 == 0)
    for build, message in ((lambda: D.Normal("a", 1.0), "loc must be a Tensor or a number, got str"),
                           (lambda: D.Normal(0.0, None), "scale must be a Tensor or a number, got NoneType"),
                           (lambda: D.Bernoulli(probs=[0.5]), "probs must be a Tensor or a number, got list"),
                           (lambda: D.Normal(0.0, 1.0, validate_args="no"), "validate_args must be None, True or")):
        with pytest.raises(TypeError, match=message):
            build()
    assert np.isnan(D.Bernoulli(probs=mg.tensor([0.5, 0.7])).mode.numpy()[0])  # no single mode at ½, as torch's
