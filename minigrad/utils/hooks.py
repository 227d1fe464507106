"""RemovableHandle (torch.utils.hooks): what registering a hook returns, to remove it again."""
from __future__ import annotations

import itertools
import weakref
from types import TracebackType
from typing import Any, MutableMapping


class RemovableHandle:
    """Removes key ``id`` from the hooks dict it was given (and from ``extra_dicts``, where hooks keep
    their flags) on ``remove()`` or on leaving a ``with`` block. The dicts are held by weak reference,
    so they must support one (an ``OrderedDict`` does, a plain ``dict`` does not)."""

    _ids = itertools.count()
    id: int

    def __init__(self, hooks_dict: MutableMapping[int, Any], *,
                 extra_dicts: tuple[MutableMapping[int, Any], ...] = ()) -> None:
        self.id = next(RemovableHandle._ids)
        self._refs = tuple(weakref.ref(d) for d in (hooks_dict, *extra_dicts))

    def remove(self) -> None:
        """Remove the hook; removing it twice, or after its owner is gone, does nothing."""
        for ref in self._refs:
            hooks = ref()
            if hooks is not None:
                hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"RemovableHandle(id={self.id})"
