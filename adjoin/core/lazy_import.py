"""Modules imported at their first use: for SciPy submodules that cost a second at ``import adjoin``.

``scipy.signal`` (which imports ``scipy.stats``) takes about 1.2 s to import and
``scipy.integrate`` about 0.5 s; adjoin needs each for one or two functions. A module from
:func:`lazy_module` is a real module object whose code runs at its first attribute access
(the standard library's ``importlib.util.LazyLoader``), so ``import adjoin`` does not pay
for them and the first ``convolve`` or ``quad`` call does, once.

When not to use: for modules adjoin uses on every call path (numpy, scipy.special,
scipy.linalg): deferring them only moves the cost.
"""
from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

__all__ = ["lazy_module"]


def lazy_module(name: str) -> ModuleType:
    """The module ``name``: the imported one if it is loaded, else one that loads itself at
    its first attribute access (and is registered in ``sys.modules`` meanwhile)."""
    mod = sys.modules.get(name)
    if mod is not None:
        return mod
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"adjoin needs the module {name!r}, which is not installed")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    loader.exec_module(mod)
    return mod
