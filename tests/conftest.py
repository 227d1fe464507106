"""The test suite's shared setup: tests/ goes on sys.path, so that test files in its subdirectories
import the helpers kept here (``torch_samples``)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
