"""The closeness check shared by the jit tests: values (or sequences of them) equal to
``rtol``/``atol``, element by element."""
import numpy as np


def assert_close(a, b, rtol=1e-11, atol=1e-12):
    a = a if isinstance(a, (tuple, list)) else (a,)
    b = b if isinstance(b, (tuple, list)) else (b,)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)
