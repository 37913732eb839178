"""Sweep cases for the primitives that wrap user functions: custom_jvp_call,
custom_vjp_call, checkpoint and stop_gradient."""
import adjoin as ad
import adjoin.numpy as anp
from tests.cases import Case


@ad.custom_jvp
def _softplus_jvp(x):
    return anp.log1p(anp.exp(x))


@_softplus_jvp.defjvp
def _softplus_rule(primals, tangents):
    x, = primals
    t, = tangents
    return _softplus_jvp(x), t / (1.0 + anp.exp(-x))


@ad.custom_vjp
def _scaled_product(x, y):
    return anp.sin(x) * y


_scaled_product.defvjp(lambda x, y: (_scaled_product(x, y), (x, y)),
                       lambda res, g: (anp.cos(res[0]) * res[1] * g, anp.sin(res[0]) * g))


def _chain(x):
    return anp.tanh(anp.sin(x) * x)


def _stop(x):
    # stop_gradient of a locally constant value: the derivative it cuts is zero anyway,
    # so finite differences agree; the rules themselves are still all exercised
    return ad.stop_gradient(anp.floor(x) + 0.5) * x + anp.sin(x)


CASES = [
    Case("custom_jvp softplus", _softplus_jvp, [((),), ((4,),), ((2, 3),)],
         primitives=("custom_jvp_call",)),
    Case("custom_vjp sin(x)*y", _scaled_product, [((), ()), ((3,), (3,)), ((2, 3), (2, 3))],
         primitives=("custom_vjp_call",)),
    Case("checkpoint", ad.checkpoint(_chain), [((),), ((5,),), ((2, 3),)],
         primitives=("checkpoint",)),
    Case("stop_gradient", _stop, [((),), ((4,),)], primitives=("stop_gradient",),
         domain=(0.2, 0.8)),
]
