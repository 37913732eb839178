"""Cases for the BLAS-level primitives (adjoin/primitives/blas.py: matmul, einsum) and the
adjoin.numpy products built on them (dot, vdot, inner, outer, tensordot, kron, cross)."""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case

MM = ("matmul",)
ES = ("einsum",)

CASES = [
    Case("matmul", lambda a, b: anp.matmul(a, b),
         [((3, 4), (4, 2)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
          ((2, 3, 4), (4, 2)), ((3, 4), (2, 4, 2)), ((2, 1, 3, 4), (3, 4, 2))],
         primitives=MM, complex=True),
    Case("matmul_operator", lambda a, b: a @ b, [((2, 3), (3, 3))], primitives=MM),
    Case("matmul_mixed_real_complex", lambda a: anp.matmul(a, np.array([[1.0 + 2j], [0.5j]])),
         [((3, 2),)], primitives=MM),
    Case("mlp_layer", lambda x, W, b: anp.tanh(x @ W + b), [((5, 3), (3, 4), (4,))],
         primitives=MM),
    Case("einsum_matmul", lambda a, b: anp.einsum("ij,jk->ik", a, b), [((3, 4), (4, 2))],
         primitives=ES, complex=True),
    Case("einsum_trace_diag", lambda a: anp.einsum("ii->", a) + anp.einsum("ii->i", a).sum(),
         [((3, 3),)], primitives=ES, complex=True),
    Case("einsum_sum_axis", lambda a: anp.einsum("ij->i", a), [((3, 4),)], primitives=ES),
    Case("einsum_implicit", lambda a, b: anp.einsum("ij,jk", a, b) + anp.einsum("ba", a @ b),
         [((3, 2), (2, 3))], primitives=ES),
    Case("einsum_ellipsis_broadcast", lambda a, b: anp.einsum("...ij,...jk->...ik", a, b),
         [((2, 3, 4), (4, 2)), ((2, 1, 2, 3), (3, 3, 2))], primitives=ES, complex=True),
    Case("einsum_three_operands", lambda a, b, c: anp.einsum("ijk,jl,lk->i", a, b, c),
         [((2, 3, 4), (3, 2), (2, 4))], primitives=ES),
    Case("einsum_outer_diag_input", lambda a, v: anp.einsum("iij,k->ijk", a, v),
         [((3, 3, 2), (2,))], primitives=ES),
    Case("dot", lambda a, b: anp.dot(a, b),
         [((3,), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,)), ((), (3,))],
         primitives=MM + ES),
    Case("vdot", lambda a, b: anp.vdot(a, b), [((2, 3), (3, 2))], primitives=ES, complex=True),
    Case("inner", lambda a, b: anp.inner(a, b), [((3,), (3,)), ((2, 3), (4, 3))],
         primitives=ES),
    Case("outer", lambda a, b: anp.outer(a, b), [((3,), (2,)), ((2, 2), (3,))],
         primitives=("multiply",)),
    Case("tensordot", lambda a, b: anp.tensordot(a, b, axes=([1, 0], [0, 2])),
         [((2, 3, 4), (3, 2, 2))], primitives=ES),
    Case("tensordot_int", lambda a, b: anp.tensordot(a, b, 1), [((2, 3), (3, 2))],
         primitives=ES),
    Case("kron", lambda a, b: anp.kron(a, b), [((2, 3), (3,)), ((2, 2), (2, 3))],
         primitives=("multiply",)),
    # NumPy's componentwise formulas; a 2-vector has z = 0, two 2-vectors give z only
    Case("cross", lambda a, b: anp.cross(a, b), [((3,), (3,)), ((4, 3), (3,)), ((2, 2), (2, 2))],
         primitives=("slice", "multiply", "subtract", "concatenate"), complex=True),
    Case("cross_mixed_2_3", lambda a, b: anp.cross(a, b),
         [((2,), (3,)), ((3,), (2,)), ((4, 2), (3,)), ((2, 1, 3), (4, 2))],
         primitives=("slice", "multiply")),
    Case("cross_axes", lambda a, b: (anp.cross(a, b, axisa=0, axisc=0),
                                     anp.cross(a[:2], b[:, :2], axisa=0)),
         [((3, 4), (4, 3))], primitives=("slice", "multiply")),
    Case("cross_axis", lambda a, b: anp.cross(a, b, axis=0), [((3, 4), (2, 4)), ((2, 5), (2, 5))],
         primitives=("slice", "multiply")),
    Case("vecdot", lambda a, b: anp.vecdot(a, b), [((2, 3), (3,))], primitives=ES, complex=True),
]
