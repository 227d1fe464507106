"""Helpers beside the library proper, as ``torch.utils``: ``hooks`` (``RemovableHandle``, what registering a
hook returns), ``benchmark`` (timing) and ``data`` (``minigrad.data`` itself, under torch's path)."""
