"""adjoin.scipy.integrate: SciPy's odeint signature on adjoin.ode's engine."""
import numpy as np
import pytest
import scipy.integrate as si

import adjoin as ad
import adjoin.numpy as anp
import adjoin.scipy.integrate as asi


def test_scipy_odeint_signature():
    f = lambda y, t, a: anp.stack([y[1], -a * anp.sin(y[0])])
    t = np.linspace(0, 3, 7)
    ref = si.odeint(lambda y, t: np.asarray(f(y, t, 2.0)), [1.0, 0.0], t, rtol=1e-12, atol=1e-12)
    ys, info = asi.odeint(f, [1.0, 0.0], t, args=(2.0,), full_output=1)
    assert ys.shape == (7, 2) and np.max(np.abs(ys - ref)) < 1e-7 and info["nfe"] > 0
    ys_t = asi.odeint(lambda t, y, a: f(y, t, a), [1.0, 0.0], t, args=(2.0,), tfirst=True)
    assert np.allclose(ys, ys_t)
    with pytest.raises(TypeError, match="Dfun"):
        asi.odeint(f, [1.0, 0.0], t, args=(2.0,), Dfun=lambda y, t, a: None)
