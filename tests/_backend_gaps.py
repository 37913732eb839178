"""Known gaps of the backend sweep (tests/test_backends.py): case ids that do not yet
run on a backend, with the reason measured when they were recorded. They run as
``xfail(strict=False)``: a case that starts to pass shows as XPASS (drop it from here).

What is left is outside adjoin.numpy: the case itself calls the backend's own array (its
indexing, its methods, Python's operators between it and a NumPy array) on the eager value,
where no adjoin function is involved. Under jvp/vjp the indexing, method and cross_axes
cases run through adjoin's primitives and match NumPy (checked); power_zero_exponent and
spectral_derivative also fail under jvp (see their reasons).
"""

STRICT = {
    'blas:einsum_trace_diag': "the case calls .sum() on einsum's (strict) result: array-api-strict arrays have no .sum method",
    'blas:cross_axes': 'the case slices the strict array itself (a[:2] on a 2-d array: the array API wants a full index, a[:2, ...])',
    'elementwise:power_zero_exponent': 'the case calls np.zeros_like on the strict array (a NumPy call on device1); under jvp the zeros come out on the CPU device and meet device1 in power',
    'fft:spectral_derivative': "the case multiplies a NumPy array (rfftfreq) by the strict array with Python's * (NumPy's operator converts it); under jvp multiply's rule multiplies the strict tangent by that NumPy constant (primitives/_families.py binary jvp)",
    'indexing:bool_mask': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:bool_mask_rows': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:gather_2d_index': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:gather_int_and_array': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:gather_negative': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:gather_nonadjacent': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:gather_pairs': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:gather_repeated': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'indexing:gather_slice_array': "the case indexes the backend's own array eagerly (x[idx] with NumPy index arrays/lists is outside the array API; adjoin's indexing runs under jvp/vjp and matches NumPy)",
    'reductions:sum_method': 'the case calls x.sum(): array-api-strict arrays have no .sum method',
    'structural:ravel_method': 'the case calls x.reshape(): array-api-strict arrays have no .reshape method',
    'structural:vstack_hstack': "the case calls .reshape() on hstack's (strict) result: array-api-strict arrays have no .reshape method",
}

DASK = {
    'indexing:gather_2d_index': "the case indexes the Dask array itself eagerly (x[idx] is Dask's indexing: a 2-d index array raises ValueError); adjoin's gather runs under jvp/vjp and matches NumPy",
    'indexing:gather_int_and_array': "the case indexes the Dask array itself eagerly (x[idx] is Dask's indexing: x[1, :, [0, 2]] puts the index axis elsewhere than NumPy, shape (4, 2) vs (2, 4)); adjoin's gather runs under jvp/vjp and matches NumPy",
    'indexing:gather_nonadjacent': "the case indexes the Dask array itself eagerly (x[idx] is Dask's indexing: no n-d fancy indexing); adjoin's gather runs under jvp/vjp and matches NumPy",
    'indexing:gather_pairs': "the case indexes the Dask array itself eagerly (x[idx] is Dask's indexing: no n-d fancy indexing); adjoin's gather runs under jvp/vjp and matches NumPy",
}
