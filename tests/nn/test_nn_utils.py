"""minigrad.nn.utils: parameters_to_vector / vector_to_parameters and rnn.pad_sequence, compared with torch
where it is installed."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad
from minigrad import nn
from minigrad.nn.utils import parameters_to_vector, rnn, vector_to_parameters


def test_parameters_to_vector_round_trip() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    arrays = [p.numpy() for p in model.parameters()]
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (11,) and np.array_equal(vec.numpy(), np.concatenate([a.ravel() for a in arrays]))
    vector_to_parameters(minigrad.arange(11).float(), model.parameters())
    assert [p.numpy() is a for p, a in zip(model.parameters(), arrays)] == [True] * 4  # the same memory
    assert model[0].weight.tolist() == [[0, 1, 2], [3, 4, 5]] and model[1].bias.tolist() == [10]
    assert np.array_equal(parameters_to_vector(model.parameters()).numpy(), np.arange(11))


def test_parameters_to_vector_gradient() -> None:
    model = nn.Linear(2, 2)
    weights = minigrad.arange(6).float()
    (parameters_to_vector(model.parameters()) * weights).sum().backward()
    assert model.weight.grad is not None and model.weight.grad.tolist() == [[0, 1], [2, 3]]
    assert model.bias.grad is not None and model.bias.grad.tolist() == [4, 5]


def test_vector_to_parameters_errors() -> None:
    model = nn.Linear(2, 2)
    before = model.weight.numpy().copy()
    with pytest.raises(TypeError, match="expected minigrad.Tensor"):
        vector_to_parameters(np.zeros(6, np.float32), model.parameters())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="6 values"):
        vector_to_parameters(minigrad.zeros(5), model.parameters())
    with pytest.raises(RuntimeError, match="1-D"):
        vector_to_parameters(minigrad.zeros(2, 3), model.parameters())
    assert np.array_equal(model.weight.numpy(), before)


def test_convert_parameters_match_torch() -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(parameters_to_vector(ours.parameters()).numpy(),
                                  torch.nn.utils.parameters_to_vector(theirs.parameters()).detach().numpy())
    weights = np.linspace(-1, 1, 8)
    (parameters_to_vector(ours.parameters()) * minigrad.tensor(weights)).sum().backward()
    (torch.nn.utils.parameters_to_vector(theirs.parameters()) * torch.tensor(weights)).sum().backward()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert p.grad is not None and q.grad is not None
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    vec = np.linspace(0, 1, 9)  # one value too many: ignored by both
    vector_to_parameters(minigrad.tensor(vec), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), theirs.parameters())
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.detach().numpy())
    with pytest.raises(TypeError):
        torch.nn.utils.vector_to_parameters(vec, theirs.parameters())


def _pad(lib: Any, batch_first: bool, padding_side: str, shapes: list[tuple[int, ...]]) -> tuple[Any, list[Any]]:
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=shape) for shape in shapes]
    seqs = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = lib.nn.utils.rnn.pad_sequence(seqs, batch_first=batch_first, padding_value=-2.0, padding_side=padding_side)
    (out * lib.tensor(rng.normal(size=tuple(out.shape)))).sum().backward()
    return out.detach().numpy(), [s.grad.numpy() for s in seqs]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("shapes", [[(3,), (1,), (2,)], [(2, 4), (5, 4)], [(1, 2, 3)]])
def test_pad_sequence_matches_torch(batch_first: bool, padding_side: str, shapes: list[tuple[int, ...]]) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = _pad(minigrad, batch_first, padding_side, shapes), _pad(torch, batch_first, padding_side, shapes)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-6)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_pad_sequence() -> None:
    a, b = minigrad.tensor([1.0, 2.0, 3.0], requires_grad=True), minigrad.tensor([4.0], requires_grad=True)
    out = rnn.pad_sequence([a, b], batch_first=True, padding_side="left")
    assert out.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert rnn.pad_sequence([a, b]).tolist() == [[1, 4], [2, 0], [3, 0]]
    (out * minigrad.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])).sum().backward()
    assert a.grad is not None and a.grad.tolist() == [1, 2, 3] and b.grad is not None and b.grad.tolist() == [6]
    with pytest.raises(ValueError, match="padding_side"):
        rnn.pad_sequence([a], padding_side="middle")
    with pytest.raises(RuntimeError, match="empty"):
        rnn.pad_sequence([])
    with pytest.raises(RuntimeError, match="agree"):
        rnn.pad_sequence([minigrad.zeros(2, 3), minigrad.zeros(2, 4)])
    with pytest.raises(TypeError, match="minigrad.Tensor"):
        rnn.pad_sequence([np.zeros(2)])  # type: ignore[list-item]
