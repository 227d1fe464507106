"""What the tests driven by torch's own sample inputs (OpInfo's) share."""
import minigrad as mg


def to_minigrad(value, converted):
    """torch tensors (inside lists, tuples and dicts too) as minigrad tensors, noting each pair in
    ``converted`` (one tensor used twice stays one), and a torch dtype as NumPy's."""
    import torch  # the callers skip without it
    if isinstance(value, torch.dtype):
        return torch.empty(0, dtype=value).numpy().dtype
    if isinstance(value, torch.Tensor):
        if id(value) not in converted:
            converted[id(value)] = (value, mg.tensor(value.detach().numpy(), requires_grad=value.requires_grad))
        return converted[id(value)][1]
    if isinstance(value, dict):
        return {k: to_minigrad(v, converted) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_minigrad(v, converted) for v in value)
    return value
