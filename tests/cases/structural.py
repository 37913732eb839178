"""Cases for the structural primitives (adjoin/primitives/structural.py) and the
adjoin.numpy shape functions built on them (stack, split, tile, pad modes, meshgrid, ...)."""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case

S = ("structural",)

CASES = [
    # reshape / broadcast / transpose
    Case("reshape", lambda x: anp.reshape(x, (-1, 2)), [((4,),), ((2, 3),), ((2, 3, 2),)],
         primitives=("reshape",), complex=True),
    Case("ravel_method", lambda x: x.reshape(-1), [((3, 4),)], primitives=("reshape",)),
    Case("broadcast_to", lambda x: anp.broadcast_to(x, (2, 3, 4)), [((),), ((4,),), ((3, 1),)],
         primitives=("broadcast_to",), complex=True),
    Case("transpose", lambda x: anp.transpose(x), [((3, 4),), ((2, 3, 4),)],
         primitives=("transpose",)),
    Case("moveaxis", lambda x: anp.moveaxis(x, 0, -1), [((2, 3, 4),)], primitives=("transpose",)),
    # concatenate and friends
    Case("concatenate", lambda x, y: anp.concatenate([x, y], axis=-1),
         [((3,), (2,)), ((2, 3), (2, 1)), ((2, 3, 2), (2, 3, 4))],
         primitives=("concatenate",), complex=True),
    Case("concatenate_three_axis0", lambda x, y, z: anp.concatenate((x, y, z)),
         [((1, 3), (2, 3), (3, 3))], primitives=("concatenate",)),
    Case("concatenate_const", lambda x: anp.concatenate([x, np.ones((2, 2)), x], axis=1),
         [((2, 3),)], primitives=("concatenate",)),
    Case("stack", lambda x, y: anp.stack([x, y], axis=-1), [((), ()), ((3,), (3,)), ((2, 3), (2, 3))],
         primitives=("concatenate",)),
    Case("vstack_hstack", lambda x, y: anp.vstack([x, y]) + anp.hstack([x, y]).reshape(2, 3),
         [((3,), (3,))], primitives=("concatenate",)),
    Case("column_stack", lambda x, y: anp.column_stack([x, y]), [((3,), (3, 2))],
         primitives=("concatenate",)),
    Case("split", lambda x: anp.split(x, 2, axis=-1), [((4,),), ((3, 4),)], primitives=("slice",)),
    Case("array_split", lambda x: anp.array_split(x, [1, 3], axis=0), [((5, 2),)],
         primitives=("slice",)),
    Case("tile", lambda x: anp.tile(x, (2, 1, 3)), [((),), ((3,),), ((2, 3),)],
         primitives=("broadcast_to", "reshape")),
    # repeat
    Case("repeat_int", lambda x: anp.repeat(x, 3, axis=-1), [((4,),), ((2, 3),)],
         primitives=("repeat",)),
    Case("repeat_flat", lambda x: anp.repeat(x, 2), [((),), ((2, 3),)], primitives=("repeat",)),
    Case("repeat_per_entry", lambda x: anp.repeat(x, [1, 0, 3], axis=0), [((3,),), ((3, 2),)],
         primitives=("repeat", "scatter_add")),
    # flip / roll
    Case("flip", lambda x: anp.flip(x, axis=-1), [((4,),), ((2, 3, 4),)], primitives=("flip",),
         complex=True),
    Case("flip_all", lambda x: anp.flip(x), [((3, 4),)], primitives=("flip",)),
    Case("flipud_fliplr", lambda x: anp.flipud(anp.fliplr(x)), [((3, 4),)],
         primitives=("flip",)),
    Case("rot90", lambda x: anp.rot90(x), [((3, 4),)], primitives=("flip", "transpose")),
    Case("roll", lambda x: anp.roll(x, 2, axis=-1), [((5,),), ((3, 4),)], primitives=("roll",)),
    Case("roll_multi", lambda x: anp.roll(x, (1, -2), axis=(0, 2)), [((2, 3, 4),)],
         primitives=("roll",)),
    Case("roll_flat", lambda x: anp.roll(x, -3), [((3, 4),)], primitives=("roll",)),
    # pad
    Case("pad_zero", lambda x: anp.pad(x, ((1, 2), (0, 3))), [((2, 3),)], primitives=("pad",),
         complex=True),
    Case("pad_int", lambda x: anp.pad(x, 2), [((3,),), ((2, 3, 2),)], primitives=("pad",)),
    Case("pad_constant", lambda x: anp.pad(x, (1, 1), constant_values=2.5), [((3, 2),)],
         primitives=("pad",)),
    Case("pad_traced_value", lambda x, c: anp.pad(x, (2, 1), constant_values=c), [((3,), ())],
         primitives=("pad",)),
    Case("pad_edge", lambda x: anp.pad(x, ((2, 1), (1, 3)), mode="edge"), [((3, 4),)],
         primitives=("gather",)),
    Case("pad_reflect", lambda x: anp.pad(x, (3, 2), mode="reflect"), [((4,),), ((3, 3),)],
         primitives=("gather",)),
    Case("pad_symmetric_wrap", lambda x: anp.pad(x, 2, mode="symmetric")
         + anp.pad(x, 2, mode="wrap"), [((3,),)], primitives=("gather",)),
    # diagonals and triangles
    Case("diagonal", lambda x: anp.diagonal(x), [((3, 4),), ((4, 3),)], primitives=("diagonal",),
         complex=True),
    Case("diagonal_offset_axes", lambda x: anp.diagonal(x, offset=-1, axis1=-1, axis2=0),
         [((3, 2, 4),)], primitives=("diagonal",)),
    Case("trace", lambda x: anp.trace(x, offset=1), [((3, 4),), ((3, 3, 2),)],
         primitives=("diagonal", "sum")),
    Case("diag_vector", lambda x: anp.diag(x, k=1), [((3,),)], primitives=("diagonal_scatter",)),
    Case("diag_vector_neg", lambda x: anp.diag(x, -2), [((2,),)], primitives=("diagonal_scatter",)),
    Case("diag_matrix", lambda x: anp.diag(x), [((3, 4),)], primitives=("diagonal",)),
    Case("triu", lambda x: anp.triu(x), [((3, 4),), ((2, 3, 3),)], primitives=("triu",)),
    Case("triu_k", lambda x: anp.triu(x, -1), [((4,),), ((3, 3),)], primitives=("triu",)),
    Case("tril", lambda x: anp.tril(x, 1), [((3, 4),), ((2, 3, 3),)], primitives=("tril",),
         complex=True),
    # broadcasting helpers
    Case("broadcast_arrays", lambda x, y: anp.broadcast_arrays(x, y), [((3, 1), (4,))],
         primitives=("broadcast_to",)),
    Case("meshgrid_xy", lambda x, y: anp.meshgrid(x, y), [((3,), (4,))],
         primitives=("reshape", "broadcast_to")),
    Case("meshgrid_ij", lambda x, y, z: anp.meshgrid(x, y, z, indexing="ij"),
         [((2,), (3,), (2,))], primitives=("broadcast_to",)),
    Case("atleast", lambda x: anp.atleast_3d(x) * 2.0, [((),), ((3,),), ((2, 3),)],
         primitives=("reshape",)),
    Case("array_of_traced", lambda x, y: anp.array([[x, y], [y * 2.0, 1.0]]), [((), ())],
         primitives=("concatenate",)),
]
