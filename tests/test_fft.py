"""Focused tests of adjoin.numpy.fft: values equal NumPy, and the complex pairing identity
Re⟨z̄, J ẋ⟩ = Re⟨x̄, ẋ⟩ (JAX's convention) with J ẋ from central differences of the real and
imaginary parts, for odd and even lengths and every norm."""
from __future__ import annotations

import numpy as np
import pytest

import adjoin as ad
import adjoin.numpy as anp

F = anp.fft
rng = np.random.default_rng(1)


def _c(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _traced(f, x):
    return ad.jvp(f, (x,), (np.zeros_like(x),))[0]


FUNCS = [
    ("fft", lambda x, norm: F.fft(x, norm=norm), True),
    ("ifft", lambda x, norm: F.ifft(x, norm=norm), True),
    ("fft_n", lambda x, norm: F.fft(x, n=5, norm=norm), True),
    ("rfft", lambda x, norm: F.rfft(x, norm=norm), False),
    ("rfft_n", lambda x, norm: F.rfft(x, n=9, norm=norm), False),
    ("irfft", lambda x, norm: F.irfft(x, norm=norm), True),
    ("irfft_odd", lambda x, norm: F.irfft(x, n=2 * x.shape[-1] - 1, norm=norm), True),
    ("fftn", lambda x, norm: F.fftn(x[None] * np.ones((3, 1)), norm=norm), True),
    ("rfftn", lambda x, norm: F.rfftn(x[None] * np.ones((3, 1)), norm=norm), False),
]


@pytest.mark.parametrize("n", [7, 8])
@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("name, f, complex_in", FUNCS, ids=[f[0] for f in FUNCS])
def test_values_and_pairing_identity(name, f, complex_in, norm, n):
    x = _c(n) if complex_in else rng.standard_normal(n)
    fn = lambda x: f(x, norm)  # noqa: E731
    out = fn(x)
    np.testing.assert_allclose(_traced(fn, x), out, rtol=1e-12, atol=1e-12)
    xdot = _c(n) if complex_in else rng.standard_normal(n)
    eps = 1e-6
    Jx = (fn(x + eps * xdot) - fn(x - eps * xdot)) / (2 * eps)
    zbar = _c(*np.shape(out)) if np.iscomplexobj(out) else rng.standard_normal(np.shape(out))
    _, pullback = ad.vjp(fn, x)
    xbar, = pullback(zbar)
    if not complex_in:
        assert not np.iscomplexobj(xbar), "a real input gets a real cotangent"
    lhs = np.real(np.sum(zbar * Jx))
    rhs = np.real(np.sum(xbar * xdot))
    assert abs(lhs - rhs) <= 1e-7 * (1 + abs(lhs))


def test_real_part_of_rfft_gradient_odd_and_even():
    for n in (5, 6):
        x = rng.standard_normal(n)
        g = ad.grad(lambda x: anp.sum(anp.real(F.rfft(x))))(x)
        # Re rfft(x)_k = Σ_n x_n cos(2πkn/N), k = 0..N//2
        k = np.arange(n // 2 + 1)[:, None]
        ref = np.cos(2 * np.pi * k * np.arange(n) / n).sum(0)
        np.testing.assert_allclose(g, ref, atol=1e-12)


def test_fftshift_roundtrip_and_freqs():
    x = rng.standard_normal((4, 5))
    np.testing.assert_allclose(_traced(F.fftshift, x), np.fft.fftshift(x))
    np.testing.assert_allclose(_traced(lambda x: F.ifftshift(F.fftshift(x)), x), x)
    np.testing.assert_allclose(F.fftfreq(5, 0.1), np.fft.fftfreq(5, 0.1))


def test_rfft_rejects_complex_input_when_traced():
    with pytest.raises(TypeError, match="real"):
        ad.jvp(F.rfft, (_c(4),), (_c(4),))
