"""User-defined derivative rules, stop_gradient and checkpoint.

``custom_jvp`` and ``custom_vjp`` follow JAX's API. Unlike JAX, each mode is
derived from the other when only one rule is given:

- a custom jvp rule is linear in the tangents, so reverse mode pulls back
  through it: ``x̄ = vjp(ṫ ↦ rule(x, ṫ))(ȳ)`` — the transpose of the pushforward;
- a custom vjp rule (bwd) is linear in the cotangent, so forward mode pushes
  forward through its transpose: ``ẏ = vjp(ȳ ↦ bwd(res, ȳ))(ẋ)``.

Both derivations run the user's rule under adjoin's reverse mode, so the rule
must be written with adjoin operations; then higher orders come for free.

Values that the function *closes over* and that are being differentiated (a
parameter captured from an enclosing function) are differentiated through the
function's own code, while the explicit arguments use the custom rule; the two
contributions add up.

The parts: ``_custom_jvp.py``, ``_custom_vjp.py``, ``_remat.py`` (stop_gradient and
checkpoint) and ``_call.py``, the machinery they share (recording a call of a user
function in reverse and forward mode, its shape and cost rules). This module is the
public face; import from here.
"""
from adjoin.transforms._custom_jvp import custom_jvp, custom_jvp_call_p
from adjoin.transforms._custom_vjp import custom_vjp, custom_vjp_call_p
from adjoin.transforms._remat import checkpoint, checkpoint_call_p, stop_gradient, stop_gradient_p

__all__ = ["custom_jvp", "custom_vjp", "stop_gradient", "checkpoint", "custom_jvp_call_p",
           "custom_vjp_call_p", "stop_gradient_p", "checkpoint_call_p"]
