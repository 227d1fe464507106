"""The tensor ops by family, as functions of their inputs: ``arithmetic`` (the operators), ``elementwise``,
``linalg`` (matrix products), ``reduce`` and ``movement`` (shapes and indexing). Most are torch's
module-level functions (``minigrad.exp``, ``minigrad.sum``, ``minigrad.cat``); the Tensor methods and
operators of the same names are one-line calls into them."""
