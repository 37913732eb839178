"""Array backends: the namespace (NumPy, CuPy, Dask) that a primitive's impl runs in.

The type of the arrays a user passes in picks the backend; user code does not change.
"""
