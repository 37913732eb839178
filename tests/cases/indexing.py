"""Cases for the indexing primitives (adjoin/primitives/indexing.py): basic slicing,
gather (integer arrays, boolean masks), and the .at[] updates (scatter_add, scatter_set)."""
from __future__ import annotations

import numpy as np

import adjoin.numpy as anp
from tests.cases import Case

#: x.at on traced values; this also works on the NumPy arrays the checkers pass
at = anp._IndexUpdateHelper

IDX = np.array([2, 0, 2, 1])          # with a repeated index
IDX2 = np.array([[0, 1], [1, 1]])
MASK = np.array([[True, False, True, True], [False, False, True, False],
                 [True, True, False, False]])

CASES = [
    # basic indexing
    Case("slice_int", lambda x: x[1], [((3,),), ((3, 4),), ((3, 2, 2),)], primitives=("slice",),
         complex=True),
    Case("slice_negative_step", lambda x: x[::-2], [((5,),), ((4, 3),)], primitives=("slice",)),
    Case("slice_mixed", lambda x: x[..., 1:3, None, -1], [((3, 4, 2),), ((4, 3),)],
         primitives=("slice",)),
    Case("slice_steps", lambda x: x[-1:0:-2, 1::2], [((5, 4),)], primitives=("slice",)),
    Case("slice_scatter", lambda x, y: at(x)[1:4:2, ::-1].set(y),
         [((5, 4), (2, 4)), ((5, 4), (4,))], primitives=("slice_scatter",)),
    # advanced indexing (gather)
    Case("gather_repeated", lambda x: x[IDX], [((3,),), ((3, 2),), ((3, 2, 2),)],
         primitives=("gather", "scatter_add"), complex=True),
    Case("gather_2d_index", lambda x: x[:, IDX2], [((3, 2),), ((2, 3, 2),)],
         primitives=("gather",)),
    Case("gather_pairs", lambda x: x[IDX2, np.array([0, 2])], [((2, 3),), ((3, 4, 2),)],
         primitives=("gather",)),
    Case("gather_nonadjacent", lambda x: x[IDX[:2], :, np.array([1, 0])], [((3, 2, 2),)],
         primitives=("gather",)),
    Case("gather_int_and_array", lambda x: x[1, :, [0, 2]], [((2, 4, 3),)],
         primitives=("gather",)),
    Case("gather_slice_array", lambda x: x[1:, ::-1][[0, 1, 1], None], [((3, 4),)],
         primitives=("gather", "slice")),
    Case("gather_negative", lambda x: x[np.array([-1, -3, 0])], [((4,),)],
         primitives=("gather",)),
    Case("bool_mask", lambda x: x[MASK], [((3, 4),)], primitives=("gather",)),
    Case("bool_mask_rows", lambda x: x[np.array([True, False, True])], [((3, 4),)],
         primitives=("gather",)),
    Case("take", lambda x: anp.take(x, IDX, axis=-1), [((3,),), ((2, 3),)],
         primitives=("gather",)),
    Case("take_flat", lambda x: anp.take(x, IDX2), [((2, 2),)], primitives=("gather",)),
    Case("take_along_axis", lambda x: anp.take_along_axis(x, np.array([[0, 2], [1, 1]]), axis=1),
         [((2, 3),)], primitives=("gather",)),
    # .at updates
    Case("at_set_basic", lambda x, y: at(x)[1:, 0].set(y), [((3, 2), (2,)), ((3, 2), ())],
         primitives=("slice_scatter",)),
    Case("at_add_basic", lambda x, y: at(x)[..., ::2].add(y), [((2, 4), (2, 2)), ((3,), ())],
         primitives=("slice_scatter",)),
    Case("at_multiply_basic", lambda x, y: at(x)[0].multiply(y), [((3, 2), (2,))],
         primitives=("slice_scatter",)),
    Case("at_add_repeated", lambda x, y: at(x)[IDX].add(y), [((3,), (4,)), ((3, 2), (4, 2)),
                                                             ((3, 2), ())],
         primitives=("scatter_add",), complex=True),
    Case("at_set_unique", lambda x, y: at(x)[np.array([2, 0])].set(y), [((3,), (2,)),
                                                                       ((3, 2), (2, 2))],
         primitives=("scatter_set",), complex=True),
    Case("at_set_repeated", lambda x, y: at(x)[IDX].set(y), [((3,), (4,)), ((3, 2), (4, 1))],
         primitives=("scatter_set",)),
    Case("at_set_mixed", lambda x, y: at(x)[1:, IDX2].set(y), [((3, 2), ()), ((3, 2), (2, 2, 2))],
         primitives=("scatter_set", "slice_scatter")),
    Case("at_add_nonadjacent", lambda x, y: at(x)[np.array([0, 1]), :, np.array([1, 1])].add(y),
         [((2, 3, 2), (2, 3)), ((2, 3, 2), (3,))], primitives=("scatter_add",)),
    Case("at_multiply_repeated", lambda x, y: at(x)[IDX].multiply(y), [((3,), (4,)),
                                                                      ((3, 2), (4, 2))],
         primitives=("scatter_set", "gather")),
    Case("at_mask_set", lambda x, y: at(x)[MASK].set(y), [((3, 4), ()), ((3, 4), (6,))],
         primitives=("scatter_set",)),
    Case("at_get", lambda x: at(x)[IDX2].get(), [((3, 2),)], primitives=("gather",)),
]
