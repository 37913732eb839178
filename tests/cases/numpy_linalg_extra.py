"""Cases for the general eigendecomposition (the ``eig`` primitive, adjoin/primitives/
linalg.py): real and complex matrices, eigenvalues and the normalized eigenvectors (unit
norm, largest component real and positive), drawn with well-separated eigenvalues."""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case


def separated(shape, gap=0.3):
    """Square matrices whose eigenvalues are ≥ gap apart and whose eigenvectors' largest
    components are unambiguous (the normalization is smooth there)."""
    def draw(rng):
        while True:
            a = rng.uniform(-2, 2, size=shape)
            w, v = np.linalg.eig(a)
            d = np.abs(w[..., :, None] - w[..., None, :]) + np.eye(shape[-1]) * 10
            top = np.sort(np.abs(v), axis=-2)
            if d.min() > gap and (top[..., -1, :] - top[..., -2, :]).min() > 0.05:
                return (a,)
    return draw


def separated_complex(shape, gap=0.3):
    def draw(rng):
        while True:
            a = rng.uniform(-2, 2, size=shape) + 1j * rng.uniform(-2, 2, size=shape)
            w, v = np.linalg.eig(a)
            d = np.abs(w[..., :, None] - w[..., None, :]) + np.eye(shape[-1]) * 10
            top = np.sort(np.abs(v), axis=-2)
            if d.min() > gap and (top[..., -1, :] - top[..., -2, :]).min() > 0.05:
                return (a,)
    return draw


CASES: list[Case] = [
    Case("eigvals", lambda a: anp.linalg.eigvals(a), [separated((3, 3)), separated((2, 4, 4)),
                                                      separated_complex((3, 3))],
         primitives=("eig",), rtol=1e-5, atol=1e-7),
    Case("eig_vectors", lambda a: anp.linalg.eig(a)[1], [separated((3, 3)),
                                                         separated_complex((3, 3))],
         primitives=("eig",), rtol=1e-5, atol=1e-7),
    Case("eig_reconstruction", lambda a: (lambda w, v: (v * w) @ anp.linalg.inv(v))(
        *anp.linalg.eig(a)), [separated((3, 3))], primitives=("eig", "inv"),
         rtol=1e-5, atol=1e-7),
]
