"""Cases for adjoin.scipy.signal (convolve, correlate): slices of the full-convolution
primitive (adjoin/primitives/signal.py), with methods 'direct' and 'fft', values against
SciPy."""
from __future__ import annotations

import scipy.signal as ss

import adjoin.scipy.signal as S
from tests.cases import Case

CASES: list[Case] = []

_SHAPES = {"1d": [((6,), (3,)), ((3,), (5,))], "2d": [((4, 3), (2, 2))],
           "3d": [((3, 2, 3), (2, 2, 1))]}


def _pairs(shapes):
    return [lambda rng, s=s: (rng.standard_normal(s[0]), rng.standard_normal(s[1]))
            for s in shapes]


#: (name, fn, SciPy's fn, inputs, rtol, atol): values compared by tests/test_scipy_namespaces.py
REFERENCES: list = []


def _add(name, fn, ref, inputs, primitives, **kw):
    REFERENCES.append((name, fn, ref, inputs, 1e-12, 1e-12))
    CASES.append(Case(name, fn, inputs, primitives=primitives, **kw))


for _f, _g in ((S.convolve, ss.convolve), (S.correlate, ss.correlate)):
    for _mode in ("full", "same", "valid"):
        for _method, _prims in (("direct", ("convolve", "flip")), ("fft", ("convolve", "slice"))):
            _dims = ("1d", "2d") if _method == "direct" or _mode == "same" else ("1d",)
            if _mode == "full" and _method == "direct":
                _dims = ("1d", "2d", "3d")
            shapes = [s for d in _dims for s in _SHAPES[d]]
            if _mode == "valid":
                shapes = [s for s in shapes
                          if all(a >= b for a, b in zip(*s)) or all(a <= b for a, b in zip(*s))]
            _add(f"signal_{_f.__name__}_{_mode}_{_method}",
                 lambda a, b, f=_f, m=_mode, me=_method: f(a, b, mode=m, method=me),
                 lambda a, b, g=_g, m=_mode, me=_method: g(a, b, mode=m, method=me),
                 _pairs(shapes), _prims, domain=(-1, 1))


def _complex_pair(s1, s2):
    return lambda rng: (rng.standard_normal(s1) + 1j * rng.standard_normal(s1),
                        rng.standard_normal(s2) + 1j * rng.standard_normal(s2))


CASES.append(Case("signal_correlate_complex_direct",
                  lambda a, b: S.correlate(a, b, mode="same", method="direct"),
                  [_complex_pair((5,), (3,))], primitives=("convolve", "conj"), complex=True))
CASES.append(Case("signal_convolve_complex_fft",
                  lambda a, b: S.convolve(a, b, mode="full", method="fft"),
                  [_complex_pair((4,), (3,))], primitives=("convolve",), complex=True))
_add("signal_convolve_auto", lambda a, b: S.convolve(a, b), ss.convolve,
     _pairs([((6,), (3,)), ((4, 3), (2, 2))]), ("convolve",))
