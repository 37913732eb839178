"""adjoin.numpy: products (matmul, dot, einsum, tensordot, ...) and 1-D convolution.

All products are built on two primitives, ``matmul`` and ``einsum``
(``adjoin/primitives/blas.py``); ``convolve`` / ``correlate`` on the N-d convolution
primitive (``adjoin/primitives/conv.py``). Complex numbers: NumPy's results; the
derivatives follow JAX's convention (vjp = transpose, no conjugation).
"""
from __future__ import annotations

import numpy as np

from adjoin.backends import is_foreign as _foreign
from adjoin.core.axes import normalize_axis_index
from adjoin.core.trace import dtype_of, shape_of, trace_stack
from adjoin.numpy._elementwise import conj, multiply
from adjoin.numpy._sequences import _any_foreign, stack
from adjoin.numpy._shape import broadcast_arrays, ravel
from adjoin.primitives.blas import LETTERS, matmul_p, matmul_shapes, einsum_p
from adjoin.primitives.conv import conv_p
from adjoin.primitives.lax import astype, flip, moveaxis, reshape

_nd = np.ndarray

__all__ = ["matmul", "dot", "vdot", "inner", "outer", "tensordot", "einsum", "kron", "cross",
           "vecdot", "convolve", "correlate"]


def matmul(a, b):
    """``numpy.matmul`` (``a @ b``): 1-D operands are promoted (and the added axis removed),
    batch axes broadcast. C = AB: Ċ = ȦB + AḂ; Ā = C̄Bᵀ, B̄ = AᵀC̄."""
    if not trace_stack and (type(a) is _nd and type(b) is _nd or  # NumPy: one type test
                            not (_foreign(a) or _foreign(b))):  # other backends: primitives
        return np.matmul(a, b)
    matmul_shapes(shape_of(a), shape_of(b))   # clear error for mismatched shapes
    return matmul_p.bind(a, b)


# --- einsum ------------------------------------------------------------------------------

def _normalize_einsum(subscripts, shapes):
    """Canonical explicit subscripts (ellipsis expanded, '->' present) and the operand
    reshapes that drop size-1 axes broadcast against larger ones."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        ins, out = subscripts.split("->")
        explicit = True
    else:
        ins, out, explicit = subscripts, None, False
    ins = ins.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: '{subscripts}' names {len(ins)} operands but "
                         f"{len(shapes)} were given")
    used = set(c for c in subscripts if c in LETTERS)
    for c in subscripts:
        if c not in LETTERS and c not in ",->.":
            raise ValueError(f"einsum: invalid label {c!r} in '{subscripts}'")
    free = [c for c in LETTERS if c not in used]
    ell_nd = 0
    for s, shp in zip(ins, shapes):
        if "..." in s:
            ell_nd = max(ell_nd, len(shp) - (len(s) - 3))
    ell = "".join(free[:ell_nd])
    new_ins = []
    for s, shp in zip(ins, shapes):
        if "..." in s:
            nd = len(shp) - (len(s) - 3)
            if nd < 0:
                raise ValueError(f"einsum: operand of shape {shp} has fewer axes than "
                                 f"'{s}' names")
            s = s.replace("...", ell[ell_nd - nd:] if nd else "")
        if len(s) != len(shp):
            raise ValueError(f"einsum: subscripts '{s}' name {len(s)} axes but the operand "
                             f"has shape {shp}")
        new_ins.append(s)
    if explicit:
        out = out.replace("...", ell)
    else:
        counts = {}
        for s in new_ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted((c for c, n in counts.items() if n == 1 and c not in ell),
                                   key=LETTERS.index))
    # sizes: a label of size 1 in one operand and n > 1 in another broadcasts (NumPy)
    sizes = {}
    for s, shp in zip(new_ins, shapes):
        for c, n in zip(s, shp):
            if n != 1 or c not in sizes:
                if c in sizes and sizes[c] != 1 and sizes[c] != n:
                    raise ValueError(f"einsum: label '{c}' has sizes {sizes[c]} and {n} in "
                                     f"operands of shapes {tuple(shapes)}")
                sizes[c] = n
    reshapes, final_ins = [], []
    for s, shp in zip(new_ins, shapes):
        if any(n == 1 and sizes[c] != 1 for c, n in zip(s, shp)):
            keep = [(c, n) for c, n in zip(s, shp) if not (n == 1 and sizes[c] != 1)]
            final_ins.append("".join(c for c, _ in keep))
            reshapes.append(tuple(n for _, n in keep))
        else:
            final_ins.append(s)
            reshapes.append(None)
    for c in out:
        if not any(c in s for s in final_ins):
            raise ValueError(f"einsum: output label '{c}' appears in no operand "
                             f"('{subscripts}')")
    return ",".join(final_ins) + "->" + out, reshapes


def _sublist_form(args):
    """``einsum(op0, sublist0, op1, sublist1, ..., [sublist_out])`` as (subscripts, operands):
    axis labels are integers (or Ellipsis), as in NumPy."""
    args = list(args)
    out = args.pop() if len(args) % 2 == 1 else None
    ops, subs = args[0::2], args[1::2]

    def letters(sub):
        s = []
        for i in sub:
            if i is Ellipsis:
                s.append("...")
            elif isinstance(i, (int, np.integer)) and 0 <= int(i) < 52:
                s.append("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[int(i)])
            else:
                raise ValueError(f"einsum: sublist labels must be integers in [0, 52) or "
                                 f"Ellipsis, got {i!r}")
        return "".join(s)

    spec = ",".join(letters(sb) for sb in subs)
    if out is not None:
        spec += "->" + letters(out)
    return spec, tuple(ops)


def einsum(subscripts, *operands, optimize=True):
    """``numpy.einsum`` (explicit ``->`` or implicit output, ellipsis; also the sublist form
    ``einsum(a, [0, 1], b, [1, 2], [0, 2])``). Linear in each operand:
    the jvp sums one einsum per tangent; the vjp of each operand is another einsum."""
    if not isinstance(subscripts, str):
        subscripts, operands = _sublist_form((subscripts,) + operands)
    if not trace_stack and not _any_foreign(operands):  # other backends: through the primitives
        return np.einsum(subscripts, *operands, optimize=optimize if len(operands) > 1 else False)
    subs, reshapes = _normalize_einsum(subscripts, [shape_of(o) for o in operands])
    ops = [o if r is None else reshape(o, r) for o, r in zip(operands, reshapes)]
    ins, out = subs.split("->")
    if len(ops) == 1 and ins == out:
        return ops[0]
    return einsum_p.bind(*ops, subscripts=subs)


# --- the classical products ----------------------------------------------------------------

def dot(a, b):
    """``numpy.dot``: multiply for scalars, matmul for 1-D/2-D, and for N-D the sum over
    the last axis of ``a`` and the second-to-last of ``b``."""
    if not trace_stack and not _foreign(a) and not _foreign(b):  # other backends: through the primitives
        return np.dot(a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return multiply(a, b)
    if len(sa) <= 2 and len(sb) <= 2:
        return matmul(a, b)
    if len(sb) == 1:
        return einsum("...i,i->...", a, b)
    la = LETTERS[:len(sa) - 1]
    lb = LETTERS[len(sa) - 1:len(sa) + len(sb) - 2]
    if sa[-1] != sb[-2]:
        raise ValueError(f"dot: shapes {sa} and {sb} are not aligned: {sa[-1]} (last axis of "
                         f"the first) != {sb[-2]} (second-to-last axis of the second)")
    return einsum_p.bind(a, b, subscripts=f"{la}z,{lb[:-1]}z{lb[-1]}->{la}{lb}")


def vdot(a, b):
    """``numpy.vdot``: Σ conj(a)·b over the flattened arrays (conjugates its first argument)."""
    if not trace_stack and not _foreign(a) and not _foreign(b):  # other backends: through the primitives
        return np.vdot(a, b)
    a, b = ravel(a), ravel(b)
    if shape_of(a) != shape_of(b):
        raise ValueError(f"vdot: the operands have {shape_of(a)[0]} and {shape_of(b)[0]} "
                         "elements; they must have the same size")
    if dtype_of(a).kind == "c":
        a = conj(a)
    return einsum_p.bind(a, b, subscripts="i,i->")


def inner(a, b):
    """``numpy.inner``: the sum over the last axes of ``a`` and ``b``."""
    if not trace_stack and not _foreign(a) and not _foreign(b):  # other backends: through the primitives
        return np.inner(a, b)
    sa, sb = shape_of(a), shape_of(b)
    if not sa or not sb:
        return multiply(a, b)
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: shapes {sa} and {sb} differ in their last axis "
                         f"({sa[-1]} != {sb[-1]})")
    la, lb = LETTERS[:len(sa) - 1], LETTERS[len(sa) - 1:len(sa) + len(sb) - 2]
    return einsum_p.bind(a, b, subscripts=f"{la}z,{lb}z->{la}{lb}")


def vecdot(x1, x2, axis=-1):
    """``numpy.vecdot``: Σ conj(x1)·x2 over ``axis``, broadcasting the other axes."""
    if not trace_stack and not _foreign(x1):  # other backends: through the primitives
        return np.vecdot(x1, x2, axis=axis)
    x1 = moveaxis(x1, axis, -1)
    x2 = moveaxis(x2, axis, -1)
    if dtype_of(x1).kind == "c":
        x1 = conj(x1)
    return einsum("...i,...i->...", x1, x2)


def outer(a, b):
    """``numpy.outer``: a.ravel()[:, None] * b.ravel()[None, :]."""
    if not trace_stack and not _foreign(a) and not _foreign(b):  # other backends: through the primitives
        return np.outer(a, b)
    a, b = ravel(a), ravel(b)
    return reshape(a, (-1, 1)) * reshape(b, (1, -1))


def tensordot(a, b, axes=2):
    """``numpy.tensordot``: ``axes`` is an int N (last N of ``a`` with first N of ``b``) or a
    pair of axis sequences."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.tensordot(a, b, axes)
    sa, sb = shape_of(a), shape_of(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > min(len(sa), len(sb)):
            raise ValueError(f"tensordot: axes={n} is out of range for shapes {sa} and {sb}")
        ax_a, ax_b = list(range(len(sa) - n, len(sa))), list(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: {len(ax_a)} axes of the first operand paired with "
                             f"{len(ax_b)} of the second")
        ax_a = [normalize_axis_index(i, len(sa)) for i in ax_a]
        ax_b = [normalize_axis_index(i, len(sb)) for i in ax_b]
    la = list(LETTERS[:len(sa)])
    lb = list(LETTERS[len(sa):len(sa) + len(sb)])
    for i, j in zip(ax_a, ax_b):
        if sa[i] != sb[j]:
            raise ValueError(f"tensordot: axis {i} of shape {sa} ({sa[i]}) does not match "
                             f"axis {j} of shape {sb} ({sb[j]})")
        lb[j] = la[i]
    out = [c for i, c in enumerate(la) if i not in ax_a] + \
          [c for j, c in enumerate(lb) if j not in ax_b]
    return einsum_p.bind(a, b, subscripts="".join(la) + "," + "".join(lb) + "->" + "".join(out))


def kron(a, b):
    """``numpy.kron``: the Kronecker product, as a broadcast product and a reshape."""
    if not trace_stack and not _foreign(a) and not _foreign(b):  # other backends: through the primitives
        return np.kron(a, b)
    sa, sb = shape_of(a), shape_of(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    a2 = reshape(a, tuple(x for n in sa for x in (n, 1)))
    b2 = reshape(b, tuple(x for n in sb for x in (1, n)))
    return reshape(a2 * b2, tuple(p * q for p, q in zip(sa, sb)))


def _length_along(x, axis):
    """The length of ``x`` along ``axis`` (None if the axis does not exist)."""
    s = np.shape(x)
    return s[axis] if -len(s) <= axis < len(s) else None


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """``numpy.cross``: the cross product of 3-vectors, where a 2-vector has z = 0 (2×3 and
    3×2 give 3-vectors) and two 2-vectors give the scalar z-component; the vectors lie along
    ``axisa`` / ``axisb`` (``axis`` sets all three), the other axes broadcast, and the
    result's vector axis is ``axisc``.

    NumPy's componentwise formulas (c = (a₁b₂ − a₂b₁, a₂b₀ − a₀b₂, a₀b₁ − a₁b₀), the z = 0
    terms left out), so values, dtypes and inf/NaN propagation are NumPy's; bilinear:
    ċ = ȧ × b + a × ḃ. Unlike ``numpy.cross`` it does not warn about 2-vectors (NumPy 2
    deprecates them): eagerly those are computed here, not by ``numpy.cross``.
    """
    if axis is not None:
        axisa = axisb = axisc = axis
    eager = not trace_stack and not _foreign(a) and not _foreign(b)  # others: the primitives
    if eager and _length_along(a, axisa) == 3 and _length_along(b, axisb) == 3:
        return np.cross(a, b, axisa, axisb, axisc)
    if eager:
        a, b = np.asarray(a), np.asarray(b)
    if len(shape_of(a)) < 1 or len(shape_of(b)) < 1:
        raise ValueError("cross: at least one array has zero dimension")
    a = moveaxis(a, normalize_axis_index(axisa, len(shape_of(a)), "axisa"), -1)
    b = moveaxis(b, normalize_axis_index(axisb, len(shape_of(b)), "axisb"), -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ValueError(f"cross: incompatible dimensions for cross product (dimension must "
                         f"be 2 or 3), got vectors of lengths {na} and {nb}")
    dtype = np.promote_types(dtype_of(a), dtype_of(b))
    if dtype_of(a) != dtype:
        a = astype(a, dtype)
    if dtype_of(b) != dtype:
        b = astype(b, dtype)
    a0, a1, b0, b1 = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    z = a0 * b1 - a1 * b0
    if na == 2 and nb == 2:
        return z
    if na == 2:                       # a₂ = 0
        b2 = b[..., 2]
        x, y = a1 * b2, -(a0 * b2)
    elif nb == 2:                     # b₂ = 0
        a2 = a[..., 2]
        x, y = -(a2 * b1), a2 * b0
    else:
        a2, b2 = a[..., 2], b[..., 2]
        x, y = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2
    x, y, z = broadcast_arrays(x, y, z)
    out = stack([x, y, z], axis=-1)
    return moveaxis(out, -1, normalize_axis_index(axisc, len(shape_of(out)), "axisc"))


# --- 1-D convolution (NumPy semantics) ---------------------------------------------------------

def correlate(a, v, mode="valid"):
    """``numpy.correlate``: c_k = Σ_n a_{n+k} conj(v_n), via the convolution primitive."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.correlate(a, v, mode)
    na, nv = shape_of(a)[0], shape_of(v)[0]
    if na < nv:
        # NumPy swaps the operands: c = flip(conj(correlate(v, a)))
        out = correlate(v, a, mode)
        return flip(conj(out) if dtype_of(out).kind == "c" else out, 0)
    if dtype_of(v).kind == "c":
        v = conj(v)
    return _conv1d(a, v, _mode_padding(mode, na, nv))


def convolve(a, v, mode="full"):
    """``numpy.convolve``: (a ∗ v)_k = Σ_n a_n v_{k−n}, a correlation with the flipped kernel."""
    if not trace_stack and not _foreign(a):  # other backends: through the primitives
        return np.convolve(a, v, mode)
    na, nv = shape_of(a)[0], shape_of(v)[0]
    if na == 0 or nv == 0:
        raise ValueError("convolve: the inputs cannot be empty")
    if na < nv:
        a, v, na, nv = v, a, nv, na
    return _conv1d(a, flip(v, 0), _mode_padding(mode, na, nv))


def _conv1d(a, v, pad):
    """The 1-d correlation of traced a and v as the N-d convolution primitive (adjoin.nn's
    ``conv`` is the user-facing layer above this one)."""
    na, nv = shape_of(a)[0], shape_of(v)[0]
    out = conv_p.bind(reshape(a, (1, 1, na)), reshape(v, (1, 1, nv)), strides=(1,),
                      padding=((int(pad[0]), int(pad[1])),), lhs_dilation=(1,),
                      rhs_dilation=(1,), groups=1)
    return reshape(out, (-1,))


def _mode_padding(mode, n, k):
    if mode == "valid":
        return (0, 0)
    if mode == "full":
        return (k - 1, k - 1)
    if mode == "same":
        lo = (k - 1) // 2 if k % 2 else k // 2
        return (lo, k - 1 - lo)
    raise ValueError(f"mode must be 'valid', 'same' or 'full', got {mode!r}")
