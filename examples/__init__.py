"""minigrad's example applications, installed as ``minigrad.examples`` (run with ``minigrad train TASK``)."""
