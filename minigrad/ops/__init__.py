"""The tensor ops by family, as functions of their inputs: ``elementwise``, ``reduce`` and ``movement``
(shapes and indexing). They are torch's module-level functions (``minigrad.exp``, ``minigrad.sum``,
``minigrad.cat``); the Tensor methods of the same names are one-line calls into them."""
