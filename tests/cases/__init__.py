"""The case table of the generic sweep: one or more Cases per primitive.

Every primitive in ``adjoin.core.primitive.REGISTRY`` must appear in the
``primitives`` of at least one Case (tests/test_registry.py checks it). A Case
is a function of differentiable array arguments plus a way to draw those
arguments inside the function's domain, for several shapes.

Each family has its own module here (``elementwise.py``, ``structural.py``,
``linear_algebra.py``, ...) that defines ``CASES``; ``ALL_CASES`` gathers them.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from typing import Callable, Sequence

import numpy as np


@dataclasses.dataclass
class Case:
    name: str
    #: a function of the differentiable arguments only (close over static ones)
    fun: Callable
    #: each entry draws one set of arguments: either a tuple of shapes (values drawn
    #: uniformly from ``domain``) or a callable ``rng -> tuple of arrays``
    inputs: Sequence
    #: the primitives this case exercises (for the registry coverage check)
    primitives: tuple = ()
    domain: tuple = (-2.0, 2.0)
    #: also run with complex inputs (real and imaginary parts drawn from ``domain``)
    complex: bool = False
    #: highest derivative order to check (0: no derivative, the function is not differentiable)
    order: int = 2
    rtol: float = 1e-6
    atol: float = 1e-8
    #: skip the batching check (e.g. functions whose output size depends on values)
    batch: bool = True
    #: finite-difference step (None: the checker's default, 1e-4 in float64)
    eps: float | None = None

    def draw(self, rng: np.random.Generator, dtype=np.float64):
        """Yield argument tuples, one per entry of ``inputs``."""
        lo, hi = self.domain
        for spec in self.inputs:
            if callable(spec):
                yield tuple(np.asarray(a) for a in spec(rng))
                continue
            args = []
            for shape in spec:
                x = rng.uniform(lo, hi, size=shape)
                if np.dtype(dtype).kind == "c":
                    x = x + 1j * rng.uniform(lo, hi, size=shape)
                args.append(np.asarray(x, dtype))
            yield tuple(args)


def all_cases() -> list[Case]:
    cases = []
    for mod in pkgutil.iter_modules(__path__):
        m = importlib.import_module(f"{__name__}.{mod.name}")
        cases.extend(getattr(m, "CASES", []))
    return cases
