"""Windowed reductions: ``reduce_window_sum/max/min`` (pooling) and the two linear primitives
that carry the derivatives of max/min pooling.

Every primitive here shares one set of static params, all tuples with one entry per operand
axis: ``window_dimensions``, ``window_strides``, ``padding`` ((low, high) pairs),
``base_dilation`` and ``window_dilation``. The operand is first dilated (``base_dilation - 1``
holes between elements) and padded; holes and padding hold the reduction's identity (0, the
lowest or the highest value of the dtype). Output element ``o`` then reduces the positions
``o * stride + k * window_dilation`` for ``k`` in ``range(window)``, on each axis.

Max/min pooling is differentiated through the element each window selects: the first
maximum (minimum) in row-major window order, as XLA's select with ``ge`` (``le``) chooses;
a NaN is selected only when its whole window is NaN.

* ``select_and_gather_add(t, x)`` gathers ``t`` at each window's selected element of ``x``: the
  tangent of ``reduce_window_max``.
* ``select_and_scatter_add(ct, x)`` adds each output's ``ct`` onto the selected element: its
  transpose, the cotangent of ``reduce_window_max``.

Each is the transpose of the other in its first operand; both have a zero derivative in ``x``
(the selection is piecewise constant), so derivatives of any order exist in both modes.

The impls are NumPy over strided views: one pass per window offset along each axis for the
reductions (a box reduction is separable), one pass per window element for the selections;
few large windows (global pooling) are instead copied out and reduced in one call.
"""
from __future__ import annotations

import builtins
import itertools
import math

import numpy as np

from funcgrad import core, dtypes, errors
from funcgrad.array import Array
from funcgrad.core import Primitive, ShapedArray
from funcgrad.primitives import elementwise as ew
from funcgrad.primitives import structural as st
from funcgrad.primitives._helpers import check_dtype, fmt
from funcgrad.primitives.reductions import highest, lowest

__all__ = ["reduce_window", "reduce_window_sum", "reduce_window_max", "reduce_window_min"]

_ORDERED = (dtypes.bool_,) + dtypes.INTS + dtypes.FLOATS  # max/min need a total order
_PARAM_NAMES = ("window_dimensions", "window_strides", "padding", "base_dilation",
                "window_dilation")


# ---------------------------------------------------------------- geometry

def _dilate(d: int, k: int) -> int:
    """Length of an axis of length ``d`` with ``k - 1`` holes between elements."""
    return 0 if d == 0 else (d - 1) * k + 1


def _out_shape(shape, window_dimensions, window_strides, padding, base_dilation,
               window_dilation) -> tuple[int, ...]:
    out = []
    for d, w, s, (lo, hi), bd, wd in zip(shape, window_dimensions, window_strides, padding,
                                         base_dilation, window_dilation):
        n, e = _dilate(d, bd) + lo + hi, _dilate(w, wd)
        out.append((n - e) // s + 1 if n >= e else 0)
    return tuple(out)


def _check_params(op: str, x: ShapedArray, *, window_dimensions, window_strides, padding,
                  base_dilation, window_dilation, **_):
    params = dict(window_dimensions=window_dimensions, window_strides=window_strides,
                  padding=padding, base_dilation=base_dilation, window_dilation=window_dilation)
    for name, value in params.items():
        if not isinstance(value, tuple) or len(value) != x.ndim:
            raise errors.shape_error(
                op, f"{name}={value!r} must have one entry per axis of operand "
                f"{x.str_short()} (rank {x.ndim}).",
                f"give {x.ndim} entries, e.g. (1,) * {x.ndim} for the axes not pooled.")
    for name in ("window_dimensions", "window_strides", "base_dilation", "window_dilation"):
        value = params[name]
        if any(not isinstance(v, int) or v <= 0 for v in value):
            raise errors.shape_error(op, f"{name}={value} must hold positive ints (operand "
                                     f"{x.str_short()}).", "use sizes of at least 1.")
    if any(not isinstance(p, tuple) or len(p) != 2 or any(not isinstance(v, int) or v < 0
                                                          for v in p) for p in padding):
        raise errors.shape_error(op, f"padding={padding} must be one (low, high) pair of "
                                 f"non-negative ints per axis of {x.str_short()}.",
                                 "pass 'VALID', 'SAME' or pairs such as ((0, 0), (1, 1)).")


def _padtype_to_pads(op, shape, window_dimensions, window_strides, window_dilation, padding):
    """Explicit (low, high) pairs for 'VALID'/'SAME'; 'SAME' gives ``ceil(d / stride)``
    outputs on the undilated operand, the extra padding split low-first (as JAX)."""
    if not isinstance(padding, str):
        try:
            return tuple((int(lo), int(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise errors.shape_error(
                op, f"padding={padding!r} is neither 'VALID', 'SAME' nor (low, high) pairs.",
                "pass 'VALID', 'SAME' or one (low, high) pair per axis.") from None
    kind = padding.upper()
    if kind == "VALID":
        return ((0, 0),) * len(shape)
    if kind == "SAME":
        pads = []
        for d, w, s, wd in zip(shape, window_dimensions, window_strides, window_dilation):
            total = max((-(-d // s) - 1) * s + _dilate(w, wd) - d, 0)
            pads.append((total // 2, total - total // 2))
        return tuple(pads)
    raise errors.shape_error(op, f"padding={padding!r} is not a known padding type.",
                             "pass 'VALID', 'SAME' or one (low, high) pair per axis.")


def _ints(op, name, value, ndim, default=1):
    if value is None:
        return (default,) * ndim
    try:
        return tuple(int(v) for v in value)
    except TypeError:
        raise errors.shape_error(op, f"{name}={value!r} must be a sequence of ints.",
                                 f"pass a tuple of {ndim} ints.") from None


def _window_params(op, x, window_dimensions, window_strides, padding, base_dilation=None,
                   window_dilation=None) -> dict:
    """The primitives' params from the user's arguments (any int sequences, padding strings);
    validation of the values is left to abstract evaluation."""
    ndim = core.get_aval(x).ndim
    window = _ints(op, "window_dimensions", window_dimensions, ndim)
    strides = _ints(op, "window_strides", window_strides, ndim)
    wdil = _ints(op, "window_dilation", window_dilation, ndim)
    params = dict(window_dimensions=window, window_strides=strides,
                  base_dilation=_ints(op, "base_dilation", base_dilation, ndim),
                  window_dilation=wdil)
    if isinstance(padding, str) and (len(window) != ndim or len(strides) != ndim
                                     or len(wdil) != ndim or min(window + strides + wdil,
                                                                 default=1) <= 0):
        # Invalid windows: abstract evaluation reports them, not a padding computation.
        params["padding"] = ((0, 0),) * ndim
    else:
        shape = core.get_aval(x).shape
        params["padding"] = _padtype_to_pads(op, shape, window, strides, wdil, padding)
    return params


# ---------------------------------------------------------------- NumPy kernels

def _padded(x: np.ndarray, fill, padding, base_dilation) -> np.ndarray:
    """``x`` dilated and padded with ``fill`` (``x`` itself when neither applies)."""
    if all(p == (0, 0) for p in padding) and all(b == 1 for b in base_dilation):
        return x
    shape = tuple(_dilate(d, b) + lo + hi for d, b, (lo, hi) in
                  zip(x.shape, base_dilation, padding))
    out = np.full(shape, fill, dtype=x.dtype)
    out[_interior(x.shape, padding, base_dilation)] = x
    return out


def _interior(shape, padding, base_dilation) -> tuple:
    """Index of the operand's elements inside the padded, dilated array."""
    return tuple(builtins.slice(lo, lo + _dilate(d, b), b)
                 for d, b, (lo, _) in zip(shape, base_dilation, padding))


def _window_slice(k, w_dil, stride, n_out):
    """Positions ``k * w_dil + o * stride`` for ``o`` in ``range(n_out)``, as a slice."""
    start = k * w_dil
    return builtins.slice(start, start + (n_out - 1) * stride + 1 if n_out else start, stride)


def _reduce_impl(ufunc, identity):
    def impl(x, *, window_dimensions, window_strides, padding, base_dilation,
             window_dilation):
        out_shape = _out_shape(x.shape, window_dimensions, window_strides, padding,
                               base_dilation, window_dilation)
        if 0 in out_shape:
            return np.zeros(out_shape, x.dtype)
        a = _padded(x, identity(x.dtype), padding, base_dilation)
        params = dict(window_dimensions=window_dimensions, window_strides=window_strides,
                      window_dilation=window_dilation)
        if _few_large_windows(a, out_shape, params):
            with np.errstate(all="ignore"):
                return ufunc.reduce(_window_view(a, out_shape, params),
                                    axis=tuple(range(x.ndim, 2 * x.ndim)), dtype=x.dtype)
        # A box reduction is separable: reduce one axis at a time, each as a fold over the
        # window's offsets of strided views, so the work is sum(window), not prod(window),
        # whole-array NumPy operations. (Reshaping non-overlapping windows and reducing over
        # the window axes was measured 40x slower than these strided folds.)
        with np.errstate(all="ignore"):
            for ax, (w, s, wd, n) in enumerate(zip(window_dimensions, window_strides,
                                                   window_dilation, out_shape)):
                if w == 1 and s == 1 and a.shape[ax] == n:
                    continue
                index = [builtins.slice(None)] * a.ndim
                views = []
                for k in range(w):
                    index[ax] = _window_slice(k, wd, s, n)
                    views.append(a[tuple(index)])
                if w == 1:
                    a = views[0].copy()
                    continue
                acc = ufunc(views[0], views[1])
                for v in views[2:]:
                    ufunc(acc, v, out=acc)
                a = acc
        return a if a.base is None and a is not x else a.copy()
    return impl


def _window_view(xp, out_shape, params) -> np.ndarray:
    """A read-only view of shape ``out_shape + window_dimensions``: every window of ``xp``."""
    strides = tuple(st_ * s for st_, s in zip(xp.strides, params["window_strides"])) + tuple(
        st_ * wd for st_, wd in zip(xp.strides, params["window_dilation"]))
    return np.lib.stride_tricks.as_strided(
        xp, out_shape + params["window_dimensions"], strides, writeable=False)


def _few_large_windows(xp, out_shape, params) -> bool:
    """Large windows that overlap little (global pooling, say): copying every window out is
    cheap then, and one vectorised reduction beats a Python loop over the window offsets."""
    size = math.prod(params["window_dimensions"])
    return size > 32 and math.prod(out_shape) * size <= 2 * xp.size + 4096


def _selected_positions(xp, out_shape, params, select) -> np.ndarray:
    """For each window of the padded operand ``xp``: the flat (C-order) position in ``xp`` of
    its first maximum (``select == "max"``) or minimum in row-major window order. A NaN is
    never selected unless its whole window is NaN.

    Branch-free on purpose: masked copies (``np.where``, ``copyto(where=)``) were measured
    ~10x slower here than whole-array arithmetic. Row-major window order is also increasing
    flat order, so "a later element wins strictly" is a running maximum of
    ``better * offset``. ``fmax``/``fmin`` against the identity keep NaN out of the running
    best.
    """
    better = np.greater if select == "max" else np.less
    keep = np.fmax if select == "max" else np.fmin
    fill = _select_fill(select, xp.dtype)
    pos_dtype = np.int32 if xp.size < 2**31 else np.int64
    elem_strides = [math.prod(xp.shape[i + 1:]) for i in range(xp.ndim)]
    offsets = list(itertools.product(*map(range, params["window_dimensions"])))
    flat_offsets = np.array([sum(k * wd * es for k, wd, es in zip(
        offset, params["window_dilation"], elem_strides)) for offset in offsets], pos_dtype)
    if _few_large_windows(xp, out_shape, params):
        windows = keep(_window_view(xp, out_shape, params), fill)  # a copy, without NaN
        arg = (np.argmin if select == "min" else np.argmax)(
            windows.reshape(out_shape + (-1,)), axis=-1)  # the first extremum
        off = flat_offsets[arg]
    else:
        best = off = None
        for offset, flat in zip(offsets, flat_offsets):
            v = xp[_offset_index(offset, params, out_shape)]
            if best is None:
                best, off = keep(v, fill), np.full(out_shape, flat, pos_dtype)
                continue
            upd = better(v, best).view(np.uint8)
            keep(best, v, out=best)
            np.maximum(off, upd * flat, out=off)
    # Add each window's own start: o * stride along every axis, broadcast up one axis at a
    # time so that only the last addition is full-sized.
    start = np.zeros((), pos_dtype)
    for n, s, es in zip(out_shape, params["window_strides"], elem_strides):
        start = start[..., None] + np.arange(n, dtype=pos_dtype) * pos_dtype(s * es)
    return off + start


def _offset_index(offset, params, out_shape) -> tuple:
    # The trailing Ellipsis keeps a 0-d operand's view an array rather than a scalar.
    return tuple(_window_slice(k, wd, s, n) for k, wd, s, n in zip(
        offset, params["window_dilation"], params["window_strides"], out_shape)) + (Ellipsis,)


def _select_fill(select, dtype):
    return lowest(dtype) if select == "max" else highest(dtype)


def _select_and_gather_add_impl(t, x, *, select, **params):
    out_shape = _out_shape(x.shape, **params)
    if 0 in out_shape:
        return np.zeros(out_shape, t.dtype)
    xp = _padded(x, _select_fill(select, x.dtype), params["padding"], params["base_dilation"])
    tp = _padded(t, 0, params["padding"], params["base_dilation"])
    return np.take(np.ravel(tp), _selected_positions(xp, out_shape, params, select))


def _select_and_scatter_add_impl(ct, x, *, select, **params):
    out_shape = ct.shape
    if 0 in out_shape or x.size == 0:
        return np.zeros(x.shape, ct.dtype)
    xp = _padded(x, _select_fill(select, x.dtype), params["padding"], params["base_dilation"])
    pos = _selected_positions(xp, out_shape, params, select)
    disjoint = all(s >= _dilate(w, wd) for w, s, wd in zip(
        params["window_dimensions"], params["window_strides"], params["window_dilation"]))
    if disjoint:  # windows do not overlap: every position is chosen at most once
        res = np.zeros(xp.shape, ct.dtype)
        res.reshape(-1)[pos] = ct
    else:  # positions repeat: accumulate (in float64, then rounded once)
        res = np.bincount(pos.reshape(-1), weights=np.ravel(ct), minlength=xp.size)
        res = res.astype(ct.dtype, copy=False).reshape(xp.shape)
    if xp is x:
        return res
    return np.ascontiguousarray(res[_interior(x.shape, params["padding"],
                                              params["base_dilation"])])


# ---------------------------------------------------------------- abstract evaluation

def _reduce_abstract_eval(name, allowed):
    def abstract_eval(x, **params):
        _check_params(name, x, **params)
        check_dtype(name, x, allowed)
        return ShapedArray(_out_shape(x.shape, **params), x.dtype, x.weak_type)
    return abstract_eval


def _check_select(op, t, x, select, what):
    if select not in ("max", "min"):
        raise ValueError(f"{op}: select must be 'max' or 'min', got {select!r}")
    check_dtype(op, x, _ORDERED)
    if t.dtype != x.dtype:
        raise errors.dtype_error(op, f"{what} and operand must have equal dtypes, got "
                                 f"{fmt(t, x)}.", f"convert the {what} to {x.dtype}.")


def _select_and_gather_add_abstract_eval(t, x, *, select, **params):
    op = "select_and_gather_add"
    _check_params(op, x, **params)
    _check_select(op, t, x, select, "tangent")
    if t.shape != x.shape:
        raise errors.shape_error(op, f"tangent and operand must have equal shapes, got "
                                 f"{fmt(t, x)}.", "pass a tangent shaped like the operand.")
    return ShapedArray(_out_shape(x.shape, **params), t.dtype, t.weak_type)


def _select_and_scatter_add_abstract_eval(ct, x, *, select, **params):
    op = "select_and_scatter_add"
    _check_params(op, x, **params)
    _check_select(op, ct, x, select, "cotangent")
    want = _out_shape(x.shape, **params)
    if ct.shape != want:
        raise errors.shape_error(op, f"cotangent {ct.str_short()} must have the window "
                                 f"output shape {want} of operand {x.str_short()}.",
                                 "pass a cotangent shaped like the reduce_window result.")
    return ShapedArray(x.shape, ct.dtype, ct.weak_type)


# ---------------------------------------------------------------- primitives

reduce_window_sum_p = Primitive(
    "reduce_window_sum", impl=_reduce_impl(np.add, lambda dt: np.zeros((), dt)),
    abstract_eval=_reduce_abstract_eval("reduce_window_sum", dtypes.NUMERIC))
reduce_window_max_p = Primitive(
    "reduce_window_max", impl=_reduce_impl(np.maximum, lowest),
    abstract_eval=_reduce_abstract_eval("reduce_window_max", _ORDERED))
reduce_window_min_p = Primitive(
    "reduce_window_min", impl=_reduce_impl(np.minimum, highest),
    abstract_eval=_reduce_abstract_eval("reduce_window_min", _ORDERED))
select_and_gather_add_p = Primitive(
    "select_and_gather_add", impl=_select_and_gather_add_impl,
    abstract_eval=_select_and_gather_add_abstract_eval)
select_and_scatter_add_p = Primitive(
    "select_and_scatter_add", impl=_select_and_scatter_add_impl,
    abstract_eval=_select_and_scatter_add_abstract_eval)

_KIND_PRIM = {"sum": reduce_window_sum_p, "max": reduce_window_max_p,
              "min": reduce_window_min_p}


# ---------------------------------------------------------------- public API

def _computation_kind(computation) -> str:
    import funcgrad.numpy as fnp  # the numpy layer sits above the primitives
    kinds = {ew.add: "sum", ew.add_p: "sum", fnp.add: "sum",
             ew.max: "max", ew.max_p: "max", fnp.maximum: "max",
             ew.min: "min", ew.min_p: "min", fnp.minimum: "min"}
    try:
        kind = kinds.get(computation)
    except TypeError:  # unhashable
        kind = None
    if kind is None:
        raise errors.InvalidArgumentError(errors.message(
            "reduce_window", f"computation {computation!r} is not supported; funcgrad "
            "reduces windows with lax.add, lax.max or lax.min (or funcgrad.numpy's add, "
            "maximum, minimum).",
            "express the pooling with one of these (e.g. an average pool is a lax.add "
            "reduce_window divided by the window size).", errors.InvalidArgumentError))
    return kind


def _identity(kind, dtype) -> np.ndarray:
    return {"sum": lambda dt: np.zeros((), dt), "max": lowest, "min": highest}[kind](dtype)


def _init_value(kind, init_value, aval: ShapedArray):
    """``init_value`` as a 0-d value of the operand's dtype, and whether it is (concretely)
    the reduction's identity, in which case it need not be combined with the result."""
    op = "reduce_window"
    dtype = aval.dtype
    if type(init_value) in (bool, int, float):
        if dtype.kind in "iub" and isinstance(init_value, float) and math.isinf(init_value):
            # -inf for max (inf for min) over integers means "no initial value".
            init = lowest(dtype) if init_value < 0 else highest(dtype)
        elif dtype.kind in "iub" and isinstance(init_value, float) and \
                not init_value.is_integer():
            raise errors.dtype_error(op, f"init_value {init_value!r} cannot be represented "
                                     f"in the operand's dtype ({aval.str_short()}).",
                                     f"pass an init_value of dtype {dtype}.")
        else:
            init = core.scalar_to_numpy(init_value, dtype)
        return Array(init), bool(init == _identity(kind, dtype))
    init_aval = core.get_aval(init_value)
    if init_aval.shape != ():
        raise errors.shape_error(op, f"init_value must be a scalar, got "
                                 f"{init_aval.str_short()}.", "pass a 0-d value.")
    if init_aval.dtype != dtype:
        if not init_aval.weak_type:
            raise errors.dtype_error(op, f"init_value {init_aval.str_short()} and operand "
                                     f"{aval.str_short()} have different dtypes.",
                                     f"convert the init_value, e.g. x.astype({dtype.name!r}).")
        init_value = ew.convert_element_type_p.bind(init_value, new_dtype=dtype,
                                                    weak_type=False)
    if isinstance(init_value, core.Tracer):  # traced: it may carry a derivative, keep it
        return init_value, False
    return init_value, bool(np.asarray(init_value) == _identity(kind, dtype))


def reduce_window(operand, init_value, computation, window_dimensions, window_strides,
                  padding, base_dilation=None, window_dilation=None):
    """Reduces each window of ``operand`` with ``computation`` (pooling), as ``lax.reduce_window``.

    Window ``o`` covers positions ``o * window_strides + k * window_dilation`` (per axis, for
    ``k`` in ``range(window_dimensions)``) of the operand after base dilation and padding;
    holes and padding hold the reduction's identity. ``init_value`` is combined once with each
    window's result (so the identity, 0 for add and ``-inf`` for max, leaves it unchanged).

    Args:
        operand: an array of any rank.
        init_value: a scalar of the operand's dtype (Python scalars adopt it).
        computation: ``lax.add``, ``lax.max`` or ``lax.min`` (or ``funcgrad.numpy.add``,
            ``maximum``, ``minimum``).
        window_dimensions: window size per axis (use 1 for axes not pooled).
        window_strides: step between windows per axis.
        padding: ``"VALID"`` (none), ``"SAME"`` (``ceil(size / stride)`` outputs) or one
            ``(low, high)`` pair of non-negative ints per axis.
        base_dilation: per-axis operand dilation (default 1: none).
        window_dilation: per-axis spacing between window elements (default 1).

    Returns:
        The reduced array, of the operand's dtype.

    Derivatives: sum is linear; max/min pass the derivative of each window to its first
    maximal (minimal) element in row-major window order.

    Example:
        >>> x = fnp.arange(16.0).reshape(1, 1, 4, 4)
        >>> lax.reduce_window(x, -fnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        Array([[[[ 5.,  7.],
                 [13., 15.]]]], dtype=float32)

    See also: ``reduce_window_sum``, ``reduce_window_max``, ``reduce_window_min``.
    """
    kind = _computation_kind(computation)
    params = _window_params("reduce_window", operand, window_dimensions, window_strides,
                            padding, base_dilation, window_dilation)
    out = _KIND_PRIM[kind].bind(operand, **params)
    init, is_identity = _init_value(kind, init_value, core.get_aval(operand))
    if is_identity:
        return out
    out_shape = core.get_aval(out).shape
    init = st.broadcast_in_dim_p.bind(init, shape=out_shape, broadcast_dimensions=())
    combine = {"sum": ew.add_p, "max": ew.max_p, "min": ew.min_p}[kind]
    return combine.bind(out, init)


def _wrapper(kind):
    prim = _KIND_PRIM[kind]

    def f(operand, window_dimensions, window_strides=None, padding="VALID",
          base_dilation=None, window_dilation=None):
        params = _window_params(f"reduce_window_{kind}", operand, window_dimensions,
                                window_strides, padding, base_dilation, window_dilation)
        return prim.bind(operand, **params)
    f.__name__ = f.__qualname__ = f"reduce_window_{kind}"
    return f


reduce_window_sum = _wrapper("sum")
reduce_window_sum.__doc__ = """The sum over each window of ``operand`` (``reduce_window`` with
    ``lax.add`` and init 0).

    Args:
        operand: an array of any rank.
        window_dimensions, window_strides (default 1), padding (default ``"VALID"``),
        base_dilation, window_dilation: as in ``reduce_window``.

    Returns:
        The window sums, of the operand's dtype.

    Example:
        >>> lax.reduce_window_sum(fnp.arange(5.0), (2,), (1,))
        Array([1., 3., 5., 7.], dtype=float32)
    """
reduce_window_max = _wrapper("max")
reduce_window_max.__doc__ = """The maximum over each window of ``operand`` (max pooling;
    ``reduce_window`` with ``lax.max`` and init ``-inf``).

    Args:
        operand: an array of any rank (floating, integer or boolean).
        window_dimensions, window_strides (default 1), padding (default ``"VALID"``),
        base_dilation, window_dilation: as in ``reduce_window``.

    Returns:
        The window maxima, of the operand's dtype. The derivative of each goes to the first
        maximal element of its window (row-major order).

    Example:
        >>> lax.reduce_window_max(fnp.array([1.0, 3.0, 2.0, 0.0]), (2,), (2,))
        Array([3., 2.], dtype=float32)
    """
reduce_window_min = _wrapper("min")
reduce_window_min.__doc__ = """The minimum over each window of ``operand`` (``reduce_window``
    with ``lax.min`` and init ``inf``).

    Args:
        operand: an array of any rank (floating, integer or boolean).
        window_dimensions, window_strides (default 1), padding (default ``"VALID"``),
        base_dilation, window_dilation: as in ``reduce_window``.

    Returns:
        The window minima, of the operand's dtype. The derivative of each goes to the first
        minimal element of its window (row-major order).

    Example:
        >>> lax.reduce_window_min(fnp.array([1.0, 3.0, 2.0, 0.0]), (2,), (2,))
        Array([1., 0.], dtype=float32)
    """


# ---------------------------------------------------------------- differentiation and vmap

from funcgrad.transforms import jvp as _ad  # noqa: E402
from funcgrad.transforms import transpose as _tr  # noqa: E402
from funcgrad.transforms import vmap as _vm  # noqa: E402

_Zero = _ad.Zero


def _reduce_window_sum_transpose(ct, aval, *, window_dimensions, window_strides, padding,
                                 base_dilation, window_dilation):
    # Operand position p (in the padded, dilated frame) receives ct[o] for every window
    # element o * stride + k * window_dilation == p. Spread ct by the stride (interior
    # padding), pad so that the window ending at p starts at index p, sum windows of the same
    # shape, and read one result per operand element (stride = base_dilation). Negative pad
    # amounts crop the padding of the forward pass.
    ct_aval = core.get_aval(ct)
    if aval.size == 0 or ct_aval.size == 0:
        return _ad.zeros_like_aval(aval)
    config = []
    for d, n, w, s, (lo, _), bd, wd in zip(aval.shape, ct_aval.shape, window_dimensions,
                                           window_strides, padding, base_dilation,
                                           window_dilation):
        e = _dilate(w, wd)
        config.append((e - 1 - lo, (d - 1) * bd + lo - (n - 1) * s, s - 1))
    zero = Array(np.zeros((), ct_aval.dtype))
    spread = st.pad_p.bind(ct, zero, padding_config=tuple(config))
    return reduce_window_sum_p.bind(
        spread, window_dimensions=window_dimensions, window_strides=base_dilation,
        padding=((0, 0),) * aval.ndim, base_dilation=(1,) * aval.ndim,
        window_dilation=window_dilation)


def _chooser_jvp(select):
    prim = _KIND_PRIM[select]

    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        ans = prim.bind(x, **params)
        if type(t) is _Zero or core.get_aval(x).dtype.kind != "f":
            return ans, _Zero.from_primal(ans)
        return ans, select_and_gather_add_p.bind(t, x, select=select, **params)
    return rule


def _select_linear_jvp(prim):
    # Linear in the first operand, piecewise constant in the operand that selects.
    def rule(primals, tangents, **params):
        ans = prim.bind(*primals, **params)
        t = tangents[0]
        if type(t) is _Zero:
            return ans, _Zero.from_primal(ans)
        return ans, prim.bind(t, primals[1], **params)
    return rule


def _select_transpose(other):
    def rule(ct, t, x, **params):
        if _tr.is_undefined(x):
            raise AssertionError(f"{other.name}'s transpose: the selecting operand is not "
                                 "linear")
        if type(ct) is _Zero:
            return [_Zero(t.aval), None]
        return [other.bind(ct, x, **params), None]
    return rule


def _with_unit_axis(params, d):
    """Params for an operand with a new axis at ``d`` that no window spans (vmap)."""
    out = {}
    for name, value in params.items():
        if name in _PARAM_NAMES:
            unit = (0, 0) if name == "padding" else 1
            value = value[:d] + (unit,) + value[d:]
        out[name] = value
    return out


def _reduce_window_batch(prim):
    def rule(vals, dims, **params):
        (x,), (d,) = vals, dims
        return prim.bind(x, **_with_unit_axis(params, d)), d
    return rule


def _select_batch(prim):
    def rule(vals, dims, **params):
        (t, x), (dt, dx) = vals, dims
        if dt != dx:  # align both at the front (broadcasting an unbatched one)
            size = _vm.batch_size(vals, dims)
            t, x = _vm.bdim_at_front(t, dt, size), _vm.bdim_at_front(x, dx, size)
            dt = 0
        return prim.bind(t, x, **_with_unit_axis(params, dt)), dt
    return rule


_tr.deflinear(reduce_window_sum_p, _tr.linear_transpose_unary(_reduce_window_sum_transpose))
_ad.rules[reduce_window_max_p] = _chooser_jvp("max")
_ad.rules[reduce_window_min_p] = _chooser_jvp("min")
_ad.rules[select_and_gather_add_p] = _select_linear_jvp(select_and_gather_add_p)
_ad.rules[select_and_scatter_add_p] = _select_linear_jvp(select_and_scatter_add_p)

_tr.rules[select_and_gather_add_p] = _select_transpose(select_and_scatter_add_p)
_tr.rules[select_and_scatter_add_p] = _select_transpose(select_and_gather_add_p)

for _p in (reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p):
    _vm.rules[_p] = _reduce_window_batch(_p)
_vm.rules[select_and_gather_add_p] = _select_batch(select_and_gather_add_p)
_vm.rules[select_and_scatter_add_p] = _select_batch(select_and_scatter_add_p)
