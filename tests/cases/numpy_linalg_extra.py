"""Cases for the general eigendecomposition (the ``eig`` primitive, adjoin/primitives/
linalg.py): real and complex matrices, eigenvalues and the normalized eigenvectors (unit
norm, largest component real and positive), drawn with well-separated eigenvalues."""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case


def separated(shape, gap=0.3, complex_=False):
    """Square matrices (complex ones with ``complex_``) whose eigenvalues are ≥ gap apart and
    whose eigenvectors' largest components are unambiguous (the normalization is smooth
    there)."""
    def draw(rng):
        while True:
            a = rng.uniform(-2, 2, size=shape)
            if complex_:
                a = a + 1j * rng.uniform(-2, 2, size=shape)
            w, v = np.linalg.eig(a)
            d = np.abs(w[..., :, None] - w[..., None, :]) + np.eye(shape[-1]) * 10
            top = np.sort(np.abs(v), axis=-2)
            if d.min() > gap and (top[..., -1, :] - top[..., -2, :]).min() > 0.05:
                return (a,)
    return draw


def separated_complex(shape, gap=0.3):
    return separated(shape, gap, complex_=True)


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


def hermitian_pd(n, batch=()):
    """Complex Hermitian positive definite matrices (well conditioned)."""
    def draw(rng):
        b = rng.uniform(-1, 1, size=batch + (n, n)) + 1j * rng.uniform(-1, 1, size=batch + (n, n))
        return (b @ np.conj(np.swapaxes(b, -1, -2)) + n * np.eye(n),)
    return draw


def hermitian_gapped(n):
    """Complex Hermitian matrices with eigenvalues ≥ 0.5 apart."""
    def draw(rng):
        q, _ = np.linalg.qr(rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n)))
        w = np.arange(n) * 0.7 + rng.uniform(-0.1, 0.1, size=n)
        return ((q * w) @ np.conj(q.T),)
    return draw


def complex_matrix(*shape):
    return lambda rng: (rng.uniform(-1, 1, size=shape) + 1j * rng.uniform(-1, 1, size=shape)
                        + (np.eye(shape[-2], shape[-1]) * 2 if len(shape) >= 2 else 0),)


def _phase_free_eigh(a):
    w, v = anp.linalg.eigh(a)
    return w, anp.real(v * anp.conj(v))             # |v_ij|²: no phase


def _phase_free_svd(a):
    U, s, Vh = anp.linalg.svd(a, full_matrices=False)
    return s, U @ Vh, anp.real(U * anp.conj(U))     # U Vᴴ and |U|² do not depend on phases


CASES += [
    Case("cholesky_complex", lambda a: anp.linalg.cholesky(a),
         [hermitian_pd(3), hermitian_pd(2, (2,))], primitives=("cholesky",)),
    Case("cholesky_nonsymmetric_input", lambda a: anp.linalg.cholesky(a @ a.T + 3 * np.eye(3)
                                                                      + 0.3 * a),
         [((3, 3),)], primitives=("cholesky",)),
    Case("eigh_complex", _phase_free_eigh, [hermitian_gapped(3)], primitives=("eigh",)),
    Case("svd_complex", _phase_free_svd, [complex_matrix(4, 3), complex_matrix(3, 4),
                                          complex_matrix(3, 3)], primitives=("svd_uv",)),
    Case("svdvals_complex", lambda a: anp.linalg.svd(a, compute_uv=False),
         [complex_matrix(4, 3), complex_matrix(2, 3, 3)], primitives=("svd",)),
    Case("qr_complex", lambda a: tuple(anp.linalg.qr(a)), [complex_matrix(4, 3),
                                                            complex_matrix(3, 3)],
         primitives=("qr",)),
]
