"""MLP 784-512-512-10 (tanh), batch 128, softmax cross-entropy (mean over the batch).

Times one ``value_and_grad`` with respect to the parameters (a list of (W, b))
and compares it with
  - the forward pass alone (adjoin with no transformation active: plain NumPy);
  - a hand-written NumPy backprop (forward + backward by hand, the floor for an
    eager NumPy library);
  - PyTorch eager (``torch.autograd.grad``, idiomatic ``F.cross_entropy``);
  - HIPS autograd, JAX eager and JAX jit (each written idiomatically).

Targets: value_and_grad ÷ forward ≤ 2.6; ÷ PyTorch eager ≤ 1 (no slower);
÷ hand-written NumPy backprop ≤ 1.1.
"""
from __future__ import annotations

import common as C  # benchmarks/ is on sys.path when a script here runs

import numpy as np

import adjoin as ad
import adjoin.numpy as anp

SIZES = (784, 512, 512, 10)
BATCH = 128
TARGET_FWD = 2.6
TARGET_TORCH = 1.0
TARGET_NUMPY = 1.1


def init(rng):
    params = []
    for m, n in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((m, n)) / np.sqrt(m), 0.1 * rng.standard_normal(n)))
    return params


def data(rng):
    X = rng.standard_normal((BATCH, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], BATCH)
    Y = np.eye(SIZES[-1])[labels]  # one-hot
    return X, labels, Y


# --- adjoin ------------------------------------------------------------------------------

def _adjoin_log_softmax():
    """adjoin.scipy.special.log_softmax if written yet, else the same with adjoin.numpy."""
    try:
        from adjoin.scipy.special import log_softmax
        return log_softmax, "adjoin.scipy.special.log_softmax"
    except ImportError:
        def log_softmax(z, axis=-1):
            m = ad.stop_gradient(anp.max(z, axis=axis, keepdims=True))
            s = z - m
            return s - anp.log(anp.sum(anp.exp(s), axis=axis, keepdims=True))
        return log_softmax, "max/exp/sum/log written with adjoin.numpy"


def make_adjoin_loss():
    log_softmax, how = _adjoin_log_softmax()

    def loss(params, X, Y):
        h = X
        for W, b in params[:-1]:
            h = anp.tanh(h @ W + b)
        W, b = params[-1]
        logits = h @ W + b
        return -anp.sum(log_softmax(logits, axis=1) * Y) / X.shape[0]
    return loss, how


# --- hand-written NumPy backprop ---------------------------------------------------------

def numpy_value_and_grad(params, X, Y):
    (W1, b1), (W2, b2), (W3, b3) = params
    h1 = np.tanh(X @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    n = X.shape[0]
    loss = -np.sum((z - np.log(s)) * Y) / n
    dz = (e / s - Y) / n
    dW3, db3 = h2.T @ dz, dz.sum(0)
    dh = (dz @ W3.T) * (1.0 - h2 * h2)
    dW2, db2 = h1.T @ dh, dh.sum(0)
    dh = (dh @ W2.T) * (1.0 - h1 * h1)
    dW1, db1 = X.T @ dh, dh.sum(0)
    return loss, [(dW1, db1), (dW2, db2), (dW3, db3)]


def run():
    C.header(f"MLP {'-'.join(map(str, SIZES))} tanh, batch {BATCH}, softmax cross-entropy: value_and_grad")
    P = C.peers()
    C.settle_allocator()
    rng = np.random.default_rng(0)
    params = init(rng)
    X, labels, Y = data(rng)

    loss, how = make_adjoin_loss()
    print(f"adjoin log-softmax: {how}")
    vg = ad.value_and_grad(loss)

    # correctness against the hand-written backprop
    v_ad, g_ad = vg(params, X, Y)
    v_np, g_np = numpy_value_and_grad(params, X, Y)
    assert abs(float(v_ad) - v_np) < 1e-10, (v_ad, v_np)
    for (a, b), (c, d) in zip(g_ad, g_np):
        assert np.allclose(a, c, rtol=1e-9, atol=1e-12) and np.allclose(b, d, rtol=1e-9, atol=1e-12)

    def torch_make():
        torch = P["torch"]
        F = torch.nn.functional
        tp = [torch.tensor(a, requires_grad=True) for W, b in params for a in (W, b)]
        tX, tl = torch.tensor(X), torch.tensor(labels)

        def step():
            h = tX
            for i in range(0, 4, 2):
                h = torch.tanh(h @ tp[i] + tp[i + 1])
            out = F.cross_entropy(h @ tp[4] + tp[5], tl)
            return out, torch.autograd.grad(out, tp)
        v, g = step()
        assert abs(float(v.detach()) - v_np) < 1e-10
        assert np.allclose(g[0].numpy(), g_np[0][0], rtol=1e-9, atol=1e-12)
        return step

    def autograd_make():
        agnp = P["agnp"]
        from autograd.scipy.special import logsumexp

        def f(p, X, Y):
            h = X
            for W, b in p[:-1]:
                h = agnp.tanh(agnp.dot(h, W) + b)
            z = agnp.dot(h, p[-1][0]) + p[-1][1]
            return -agnp.sum((z - logsumexp(z, axis=1, keepdims=True)) * Y) / X.shape[0]
        g = P["autograd"].value_and_grad(f)
        assert abs(float(g(params, X, Y)[0]) - v_np) < 1e-10
        return lambda: g(params, X, Y)

    def jax_make(jit):
        jax, jnp = P["jax"], P["jnp"]

        def f(p, X, Y):
            h = X
            for W, b in p[:-1]:
                h = jnp.tanh(h @ W + b)
            z = h @ p[-1][0] + p[-1][1]
            return -jnp.sum(jax.nn.log_softmax(z, axis=1) * Y) / X.shape[0]
        jp = [(jnp.asarray(W), jnp.asarray(b)) for W, b in params]
        jX, jY = jnp.asarray(X), jnp.asarray(Y)
        g = jax.value_and_grad(f)
        if jit:
            g = jax.jit(g)
        assert abs(float(g(jp, jX, jY)[0]) - v_np) < 1e-10
        return lambda: jax.block_until_ready(g(jp, jX, jY))

    entries = C.compare({
        "adjoin forward (no trace)": lambda: loss(params, X, Y),
        "adjoin value_and_grad": lambda: vg(params, X, Y),
        "NumPy hand backprop": lambda: numpy_value_and_grad(params, X, Y),
        "PyTorch eager": C.peer_fn("torch", torch_make),
        "autograd": C.peer_fn("autograd", autograd_make),
        "JAX eager": C.peer_fn("jax", lambda: jax_make(False)),
        "JAX jit": C.peer_fn("jax", lambda: jax_make(True)),
    })

    C.timing_table(entries, "adjoin value_and_grad")
    t = entries["adjoin value_and_grad"].best
    C.check("mlp", "value_and_grad ÷ forward", t / entries["adjoin forward (no trace)"].best, TARGET_FWD)
    if isinstance(entries["PyTorch eager"], C.Timing):
        C.check("mlp", "value_and_grad ÷ PyTorch eager", t / entries["PyTorch eager"].best, TARGET_TORCH)
    C.check("mlp", "value_and_grad ÷ NumPy hand backprop", t / entries["NumPy hand backprop"].best,
            TARGET_NUMPY)
    return entries


if __name__ == "__main__":
    C.describe_env()
    run()
    C.print_summary()
