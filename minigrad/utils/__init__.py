"""Helpers beside the library proper, as in ``torch.utils``: ``benchmark`` (timing). Nothing here is
imported by ``minigrad/__init__.py``."""
