"""Sweep cases for jit_call: a jitted function called under grad, jvp and vmap binds it, and
its rules are the derived programs (a forward part keeping residuals and a backward part; a
jvp program; one program per batch layout)."""
import adjoin as ad
import adjoin.numpy as anp
from tests.cases import Case


@ad.jit
def _chain(x, y):
    return anp.sin(x) * y + anp.exp(0.3 * x) - anp.tanh(x * y)


@ad.jit
def _reduce(A, x):
    return anp.sum(anp.tanh(A @ x) ** 2, axis=-1)


CASES = [
    Case("jit_call elementwise chain", _chain, [((), ()), ((4,), (4,)), ((2, 3), (3,))],
         primitives=("jit_call",)),
    Case("jit_call matvec and reduction", _reduce, [((3, 4), (4,)), ((2, 3, 4), (4,))],
         primitives=("jit_call",)),
]
