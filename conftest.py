"""Makes ``python -m pytest`` from the repository root test the installed minigrad, as plain
``pytest`` does. ``python -m`` puts the current directory first on ``sys.path``, where the source
tree's ``minigrad/`` (which has no compiled ``_C``) would shadow the installed package; this file
is loaded before any test imports minigrad and takes that entry out again. An editable install
still maps ``minigrad`` to this tree through its own import hook, so development is unaffected.
"""
import os
import sys

_ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _ROOT]
