"""Cases for the FFT primitives (adjoin/primitives/fft.py) and adjoin.numpy.fft: odd and even
lengths, the three norms, n/s padding and truncation, several axes."""
from __future__ import annotations

import adjoin.numpy as anp
from tests.cases import Case

F = anp.fft
NORMS = (None, "ortho", "forward")


def _all_norms(fn):
    return lambda x: tuple(fn(x, norm) for norm in NORMS)


CASES = [
    Case("fft", _all_norms(lambda x, norm: F.fft(x, norm=norm)), [((7,),), ((8,),), ((2, 5),)],
         primitives=("fft",), complex=True),
    Case("fft_n_axis", lambda x: (F.fft(x, n=6, axis=0), F.fft(x, n=3, axis=0)), [((4, 2),)],
         primitives=("fft", "pad", "slice"), complex=True),
    Case("ifft", _all_norms(lambda x, norm: F.ifft(x, norm=norm)), [((7,),), ((3, 6),)],
         primitives=("ifft",), complex=True),
    Case("rfft", _all_norms(lambda x, norm: F.rfft(x, norm=norm)), [((7,),), ((8,),), ((5, 6),)],
         primitives=("rfft",)),
    Case("rfft_n_axis", lambda x: (F.rfft(x, n=5, axis=0), F.rfft(x, n=8, axis=0)), [((6, 2),)],
         primitives=("rfft",)),
    Case("irfft_even", _all_norms(lambda x, norm: F.irfft(x, n=8, norm=norm)),
         [((5,),), ((2, 5),)], primitives=("irfft",), complex=True),
    Case("irfft_odd", _all_norms(lambda x, norm: F.irfft(x, n=7, norm=norm)),
         [((4,),), ((3, 4),)], primitives=("irfft",), complex=True),
    Case("irfft_default_n_resize", lambda x: (F.irfft(x), F.irfft(x, n=5), F.irfft(x, n=12)),
         [((4,),)], primitives=("irfft",), complex=True),
    Case("fftn_ifftn", lambda x: (F.fftn(x), F.ifftn(x, axes=(0, 2)), F.fft2(x, s=(3, 5))),
         [((2, 3, 4),)], primitives=("fft", "ifft"), complex=True),
    Case("rfftn", lambda x: (F.rfftn(x), F.rfft2(x, norm="ortho"), F.rfftn(x, axes=(0,))),
         [((3, 5),), ((4, 6),)], primitives=("rfft",)),
    Case("irfftn", lambda x: (F.irfftn(x, s=(3, 5)), F.irfftn(x, s=(4, 6), norm="forward")),
         [((3, 3),), ((2, 3, 4),)], primitives=("irfft",), complex=True),
    Case("hfft_ihfft", lambda x: (F.hfft(x), F.ihfft(F.hfft(x, n=7))), [((4,),)],
         primitives=("irfft", "rfft"), complex=True),
    Case("fftshift", lambda x: (F.fftshift(x), F.ifftshift(x, axes=0)), [((5,),), ((4, 3),)],
         primitives=("roll",), complex=True),
    Case("spectral_derivative",
         lambda u: F.irfft(1j * F.rfftfreq(8, 1 / 8) * F.rfft(u), n=8), [((8,),)],
         primitives=("rfft", "irfft")),
    Case("power_spectrum", lambda x: anp.abs(F.fft(x)) ** 2, [((6,),)], domain=(0.5, 2.0),
         primitives=("fft",)),
]
