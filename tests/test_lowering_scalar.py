"""The scalar templates of elementwise primitives (lowering/scalar.py) against each primitive's
NumPy impl, compiled with Numba, for every dtype the primitive allows; and the accuracy of the
vectorisable approximations in lowering/vmath.py.

To keep compiling cheap, one kernel per operand dtype evaluates every case of that dtype at
once; each case's result is bound to a variable ``r<k>`` whose Numba type is checked to be
exactly the case's output dtype.
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcgrad import dtypes
from funcgrad.core import ShapedArray
from funcgrad.lowering import scalar
from funcgrad.primitives import elementwise as E
from funcgrad.transforms.jvp import add_any_p

numba = pytest.importorskip("numba")
from funcgrad.lowering import vmath  # noqa: E402  (imports numba)

KERNEL_DTYPES = [d for d in dtypes.ALL if d != dtypes.float16]

# Float results that come from libm-like functions: compared within ULP_BOUND units in the
# last place of the impl's result (NumPy uses its own SIMD implementations of some of them).
TRANSCENDENTAL = {"exp", "exp2", "log", "log1p", "expm1", "tanh", "logistic", "sin", "cos",
                  "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                  "cbrt", "erf", "erfinv", "atan2", "pow"}
ULP_BOUND = {np.dtype(np.float32): 4, np.dtype(np.float64): 4}
# Complex results of anything but exact arithmetic: relative tolerance per dtype.
COMPLEX_RTOL = {np.dtype(np.complex64): 2e-6, np.dtype(np.complex128): 1e-14}
COMPLEX_EXACT = {"add", "add_any", "sub", "neg", "copy", "stop_gradient", "select_n", "eq",
                 "ne", "lt", "le", "gt", "ge", "convert_element_type", "max", "min", "clamp"}


@dataclass
class Case:
    name: str
    prim: object
    params: dict
    roles: tuple  # which input arrays feed the operands: "x", "y", "z", "s", "wb", "wi"
    in_avals: list
    out_aval: ShapedArray
    label: str = field(default="")


def _allowed(prim, nargs, dt, **params) -> ShapedArray | None:
    try:
        return prim.abstract_eval(*[ShapedArray((), dt)] * nargs, **params)
    except Exception:
        return None


def _cases(dt) -> list[Case]:
    dt = np.dtype(dt)
    cases = []

    def add(prim, roles, in_dts, params=None, label=""):
        params = params or {}
        in_avals = [ShapedArray((), d) for d in in_dts]
        try:
            out = prim.abstract_eval(*in_avals, **params)
        except Exception:
            return
        cases.append(Case(prim.name, prim, params, roles, in_avals, out,
                          label or prim.name))

    special = {E.integer_pow_p, E.round_p}
    for p in E.UNARY:
        if p not in special:
            add(p, ("x",), [dt])
    for p in E.BINARY:
        roles = ("x", "s") if p.name.startswith("shift") else ("x", "y")
        add(p, roles, [dt, dt])
    add(add_any_p, ("x", "y"), [dt, dt])
    for y in (0, 1, 2, 3, 5, 7, 16, -1, -2, -3):
        add(E.integer_pow_p, ("x",), [dt], {"y": y}, f"integer_pow[y={y}]")
    for m in (0, 1):
        add(E.round_p, ("x",), [dt], {"rounding_method": m}, f"round[{m}]")
    add(E.select_n_p, ("wb", "x", "y"), [dtypes.bool_, dt, dt], label="select_n[bool]")
    add(E.select_n_p, ("wi", "x", "y", "z"), [dtypes.int32, dt, dt, dt], label="select_n[i32]")
    add(E.select_n_p, ("wb", "x"), [dtypes.bool_, dt], label="select_n[1]")
    add(E.clamp_p, ("y", "x", "z"), [dt, dt, dt])
    add(E.copy_p, ("x",), [dt])
    add(E.stop_gradient_p, ("x",), [dt])
    for dst in KERNEL_DTYPES:
        add(E.convert_element_type_p, ("x",), [dt], {"new_dtype": dst, "weak_type": False},
            f"convert[->{dst.name}]")
    return [c for c in cases if scalar.supports(c.prim, c.in_avals, c.out_aval)]


# ------------------------------------------------------------------------------------------
# Inputs


def _edge_values(dt) -> np.ndarray:
    dt = np.dtype(dt)
    if dt == np.bool_:
        return np.array([False, True])
    if dt.kind in "iu":
        info = np.iinfo(dt)
        vals = [0, 1, 2, 3, 7, info.max, info.max - 1, info.bits - 1, info.bits, 100]
        if dt.kind == "i":
            vals += [-1, -2, -3, -7, info.min, info.min + 1, -info.bits]
        return np.array(vals, dt)
    if dt.kind == "f":
        fi = np.finfo(dt)
        vals = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 1.5, 3.0, 0.49999997,
                np.inf, -np.inf, np.nan, float(fi.max), -float(fi.max), float(fi.tiny),
                float(fi.smallest_subnormal), -float(fi.smallest_subnormal) * 3, 1e-3,
                math.pi, -88.5, 89.0, 1e10, -1e10, 3e9, 2.0 ** 31, 2.0 ** 63, 255.9]
        return np.array(vals, dt)
    parts = [0.0, -0.0, 1.0, -1.5, 2.5, np.nan, np.inf]
    return np.array([complex(r, i) for r in parts for i in parts], dt)


def _inputs(dt, x, y, z) -> dict:
    n = x.shape[0]
    rng = np.random.default_rng(n)
    dt = np.dtype(dt)
    if dt.kind in "iu":
        bits = dt.itemsize * 8
        s = rng.integers(-2 if dt.kind == "i" else 0, bits + 2, n).astype(dt)
    else:
        s = x
    return {"x": x, "y": y, "z": z, "s": s, "wb": rng.integers(0, 2, n).astype(bool),
            "wi": rng.integers(0, 3, n).astype(np.int32)}


def _edge_inputs(dt) -> dict:
    e = _edge_values(dt)
    x, y = (a.ravel() for a in np.meshgrid(e, e, indexing="ij"))
    z = np.roll(y, 5)
    return _inputs(dt, x, y, z)


# ------------------------------------------------------------------------------------------
# One kernel per dtype


_KERNELS: dict = {}


def _kernel(dt):
    dt = np.dtype(dt)
    if dt in _KERNELS:
        return _KERNELS[dt]
    cases = _cases(dt)
    out_dts = sorted({np.dtype(c.out_aval.dtype) for c in cases}, key=str)
    slot, rows = {}, {d: 0 for d in out_dts}
    for k, c in enumerate(cases):
        d = np.dtype(c.out_aval.dtype)
        slot[k] = (d, rows[d])
        rows[d] += 1
    roles = ["x", "y", "z", "s", "wb", "wi"]
    outs = [f"out_{d.name}" for d in out_dts]
    lines = [f"def kernel({', '.join(roles + outs)}):",
             "    for i in range(x.shape[0]):"]
    lines += [f"        {r}_ = {r}[i]" for r in roles]
    for k, c in enumerate(cases):
        expr = scalar.emit(c.prim, c.params, [f"{r}_" for r in c.roles], c.in_avals,
                           c.out_aval)
        d, row = slot[k]
        lines.append(f"        r{k} = {expr}")
        lines.append(f"        out_{d.name}[{row}, i] = r{k}")
    src = "\n".join(lines) + "\n"
    ns: dict = {}
    exec(scalar.IMPORTS, ns)  # noqa: S102
    exec(compile(src, f"<scalar kernel {dt.name}>", "exec"), ns)  # noqa: S102
    disp = numba.njit(error_model="numpy")(ns["kernel"])
    _KERNELS[dt] = (disp, cases, out_dts, slot, rows)
    return _KERNELS[dt]


def _run(dt, ins: dict):
    disp, cases, out_dts, slot, rows = _kernel(dt)
    n = ins["x"].shape[0]
    outs = {d: np.zeros((rows[d], n), d) for d in out_dts}
    disp(*[ins[r] for r in ["x", "y", "z", "s", "wb", "wi"]], *[outs[d] for d in out_dts])
    return {k: outs[slot[k][0]][slot[k][1]] for k in range(len(cases))}


# ------------------------------------------------------------------------------------------
# Comparison


def _ordered(a: np.ndarray) -> np.ndarray:
    """Float bits mapped to integers that count ulps (-0.0 and 0.0 coincide)."""
    bits = a.view(np.int32 if a.dtype == np.float32 else np.int64).astype(np.int64)
    if a.dtype == np.float32:
        return np.where(bits < 0, np.int64(-(2 ** 31)) - bits, bits)
    return np.where(bits < 0, np.iinfo(np.int64).min - bits, bits)


def ulp_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ulps between float arrays a and b; 0 where both are NaN, huge where only one is."""
    both_nan = np.isnan(a) & np.isnan(b)
    one_nan = np.isnan(a) != np.isnan(b)
    with np.errstate(over="ignore"):
        d = np.abs(_ordered(a) - _ordered(b)).astype(np.float64)
    d = np.where(both_nan, 0.0, d)
    inf_mismatch = (np.isinf(a) | np.isinf(b)) & (a != b) & ~both_nan
    return np.where(one_nan | inf_mismatch, np.inf, d)


def _mismatch(case: Case, got: np.ndarray, want: np.ndarray) -> np.ndarray:
    dt = np.dtype(case.out_aval.dtype)
    if dt.kind in "biu":
        return got != want
    if dt.kind == "f":
        if case.name in TRANSCENDENTAL:
            return ulp_diff(got, want) > ULP_BOUND[dt]
        same = (got.view(f"u{dt.itemsize}") == want.view(f"u{dt.itemsize}"))
        return ~(same | (np.isnan(got) & np.isnan(want)))
    if case.name in COMPLEX_EXACT:
        return ~((got == want) | (np.isnan(got) & np.isnan(want)))
    bad = np.zeros(got.shape, bool)
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        scale = np.maximum(np.abs(want), np.finfo(dt).tiny)
        with np.errstate(invalid="ignore", over="ignore"):
            close = np.isfinite(g) & np.isfinite(w) & (np.abs(g - w) <= COMPLEX_RTOL[dt] * scale)
        bad |= ~(close | (g == w) | (np.isnan(g) & np.isnan(w)))
    return bad


def _reference(case: Case, ins: dict) -> np.ndarray:
    args = [ins[r] for r in case.roles]
    if case.name == "convert_element_type" and args[0].dtype.kind in "fc" and \
            np.dtype(case.params["new_dtype"]).kind in "iu":
        return _saturating_convert(args[0], case.params["new_dtype"])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        want = case.prim.impl(*args, **case.params)
    return np.asarray(want).astype(case.out_aval.dtype, copy=False)


def _saturating_convert(x, dst):
    # The impl clamps to the integer range in the float dtype, where the range's upper end may
    # round up out of it (2**31 - 1 -> 2**31 in float32) and then converts out of range. The
    # template saturates: NaN -> 0, beyond the range -> its ends (see test below).
    info = np.iinfo(dst)
    x = np.real(x).astype(np.float64)
    with np.errstate(invalid="ignore"):
        out = np.trunc(np.nan_to_num(x, nan=0.0))
    res = np.zeros(x.shape, dst)
    inside = (out > float(info.min)) & (out < float(info.max) + 1.0)
    res[inside] = out[inside].astype(dst) if info.bits < 64 else \
        np.array([int(v) for v in out[inside]], dtype=dst)
    res[out >= float(info.max) + 1.0] = info.max
    res[out <= float(info.min)] = info.min
    return res


def _check(dt, ins: dict):
    results = _run(dt, ins)
    _, cases, *_ = _kernel(dt)
    failures = []
    for k, case in enumerate(cases):
        want = _reference(case, ins)
        got = results[k]
        bad = _mismatch(case, got, want)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            operands = [ins[r][i] for r in case.roles]
            failures.append(f"{case.label}{tuple(operands)}: got {got[i]!r}, "
                            f"impl {want[i]!r} ({int(bad.sum())} mismatches)")
    assert not failures, f"{np.dtype(dt).name}:\n" + "\n".join(failures)


@pytest.mark.parametrize("dt", KERNEL_DTYPES, ids=str)
def test_templates_match_impl_on_edge_values(dt):
    _check(dt, _edge_inputs(dt))


@pytest.mark.parametrize("dt", KERNEL_DTYPES, ids=str)
def test_template_result_types_are_exact(dt):
    disp, cases, *_ = _kernel(dt)
    if not disp.overloads:
        _run(dt, _edge_inputs(dt))
    typemap = next(iter(disp.overloads.values())).type_annotation.typemap
    wrong = []
    for k, c in enumerate(cases):
        t = typemap[f"r{k}"]
        want = numba.from_dtype(np.dtype(c.out_aval.dtype))
        if t != want:
            wrong.append(f"{c.label}: {t} (want {want})")
    assert not wrong, "\n".join(wrong)


def _values(dt):
    dt = np.dtype(dt)
    if dt == np.bool_:
        return st.booleans()
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return st.one_of(st.integers(max(-8, int(info.min)), 8),
                         st.integers(int(info.min), int(info.max)))
    if dt.kind == "f":
        return st.floats(width=dt.itemsize * 8, allow_nan=True, allow_infinity=True)
    # Moderate magnitudes: overflowing complex products and quotients are not compared.
    return st.complex_numbers(min_magnitude=1e-3, max_magnitude=1e3, allow_nan=False,
                              allow_infinity=False, width=dt.itemsize * 8)


@pytest.mark.parametrize("dt", KERNEL_DTYPES, ids=str)
@given(data=st.data())
def test_templates_match_impl_on_drawn_values(dt, data):
    dt = np.dtype(dt)
    x, y, z = (data.draw(hnp.arrays(dt, 16, elements=_values(dt))) for _ in range(3))
    _check(dt, _inputs(dt, x, y, z))


def test_convert_saturates_out_of_range_floats():
    x = np.array([np.inf, -np.inf, np.nan, 3e9, -3e9, 2.0 ** 31, 2.0 ** 63, 2.0 ** 64, -0.7,
                  255.9], np.float32)
    cases = [(np.int32, [2 ** 31 - 1, -2 ** 31, 0, 2 ** 31 - 1, -2 ** 31, 2 ** 31 - 1,
                         2 ** 31 - 1, 2 ** 31 - 1, 0, 255]),
             (np.uint8, [255, 0, 0, 255, 0, 255, 255, 255, 0, 255]),
             (np.int64, [2 ** 63 - 1, -2 ** 63, 0, 3000000000, -3000000000, 2 ** 31,
                         2 ** 63 - 1, 2 ** 63 - 1, 0, 255]),
             (np.uint64, [2 ** 64 - 1, 0, 0, 3000000000, 0, 2 ** 31, 2 ** 63, 2 ** 64 - 1, 0,
                          255])]
    ins = _inputs(np.float32, x, x, x)
    results = _run(np.float32, ins)
    _, kcases, *_ = _kernel(np.float32)
    for dst, want in cases:
        k = next(i for i, c in enumerate(kcases) if c.label == f"convert[->{np.dtype(dst)}]")
        np.testing.assert_array_equal(results[k], np.array(want, dtype=dst))


# ------------------------------------------------------------------------------------------
# Literals and float32 purity


@pytest.mark.parametrize("value,dt,text", [
    (0.5, np.float32, "np.float32(0.5)"), (3, np.int64, "np.int64(3)"), (True, np.bool_, "True"),
    (float("nan"), np.float32, "np.float32(np.nan)"), (-np.inf, np.float64, "np.float64(-np.inf)"),
    (-0.0, np.float32, "np.float32(-0.0)")])
def test_literal_text(value, dt, text):
    assert scalar.literal(value, dt) == text


def test_literals_are_dtype_exact_in_numba():
    vals = []
    for dt in KERNEL_DTYPES:
        if dt.kind in "iu":
            info = np.iinfo(dt)
            vals += [(info.min, dt), (info.max, dt), (0, dt)]
        elif dt.kind == "f":
            vals += [(v, dt) for v in (0.1, -0.0, np.nan, np.inf, -np.inf,
                                       np.finfo(dt).smallest_subnormal, np.finfo(dt).max)]
        elif dt.kind == "c":
            vals += [(complex(0.1, -np.inf), dt), (complex(np.nan, 2.0), dt)]
        else:
            vals += [(True, dt), (False, dt)]
    ns: dict = {}
    exec(scalar.IMPORTS, ns)  # noqa: S102
    body = ", ".join(scalar.literal(v, dt) for v, dt in vals)
    exec(f"def f():\n    return ({body},)\n", ns)  # noqa: S102
    got_py = ns["f"]()
    disp = numba.njit(ns["f"])
    got_nb = disp()
    ret = disp.nopython_signatures[0].return_type
    for i, (v, dt) in enumerate(vals):
        assert numba.types.unliteral(ret[i]) == numba.from_dtype(np.dtype(dt)), (v, dt, ret[i])
        want = np.asarray(v, dt)
        for got in (got_py[i], got_nb[i]):
            np.testing.assert_array_equal(np.asarray(got, dt).reshape(1).view(np.uint8),
                                          want.reshape(1).view(np.uint8))


_FLOAT_TOKEN = re.compile(r"(?<![\w.])(\d+\.\d*|\.\d+|\d+[eE][-+]?\d+)")
_TYPED = re.compile(r"np\.(float32|float64|complex64|complex128)\((-?[\w.+-]+)\)")

# float32 templates that evaluate in float64 on purpose, because the impl does.
_F64_ON_PURPOSE = {"erfinv", "convert_element_type"}


def test_float32_templates_have_no_untyped_float_literals():
    f32 = np.dtype(np.float32)
    for c in _cases(f32):
        text = scalar.emit(c.prim, c.params, ["a", "b", "c", "d"][:len(c.roles)], c.in_avals,
                           c.out_aval)
        stripped = _TYPED.sub("", text)
        assert not _FLOAT_TOKEN.search(stripped), (c.label, text)
        if c.name not in _F64_ON_PURPOSE:
            assert "float64" not in text, (c.label, text)


def _unexpected_float64(name, t):
    # Python float constants are typed float64 before the np.float32(...) around them folds;
    # sin, cos (argument reduction) and pow (its logarithm) use float64 on purpose.
    inside = ("_trig_reduce_float32", "pow_float32")
    return t == numba.float64 and "const" not in name and not any(f in name for f in inside)


def test_float32_kernel_has_no_float64_values():
    # Every value in a loop of float32-only templates is float32 (or an int/bool).
    f32 = np.dtype(np.float32)
    cases = [c for c in _cases(f32) if c.name not in _F64_ON_PURPOSE
             and np.dtype(c.out_aval.dtype) == f32]
    lines = ["def k(x, y, z, out):", "    for i in range(x.shape[0]):"]
    for j, c in enumerate(cases):
        args = [{"x": "x[i]", "y": "y[i]", "z": "z[i]"}.get(r, "x[i]") for r in c.roles]
        if c.name == "select_n":
            args[0] = "x[i] > y[i]"
        expr = scalar.emit(c.prim, c.params, args, c.in_avals, c.out_aval)
        lines.append(f"        out[{j}, i] = {expr}")
    ns: dict = {}
    exec(scalar.IMPORTS, ns)  # noqa: S102
    exec("\n".join(lines) + "\n", ns)  # noqa: S102
    disp = numba.njit(error_model="numpy")(ns["k"])
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    disp(x, x[::-1].copy(), x, np.zeros((len(cases), 7), np.float32))
    typemap = next(iter(disp.overloads.values())).type_annotation.typemap
    f64 = [k for k, t in typemap.items() if _unexpected_float64(k, t)]
    assert not f64, f64


# ------------------------------------------------------------------------------------------
# vmath: accuracy of the float32 approximations over dense sweeps of their domains


def _erf64(x):
    return np.frompyfunc(math.erf, 1, 1)(x).astype(np.float64)


# name -> (float64 reference, sweep interval, max ulps measured against the float64 reference
# rounded to float32, over these sweeps and an offline sweep of every float32)
VMATH_F32 = {
    "exp": (np.exp, (-110.0, 90.0), 1),
    "exp2": (np.exp2, (-160.0, 130.0), 1),
    "expm1": (np.expm1, (-20.0, 90.0), 1),
    "log": (np.log, (0.0, 3.4e38), 1),
    "log1p": (np.log1p, (-1.0, 3.4e38), 1),
    "tanh": (np.tanh, (-12.0, 12.0), 2),
    "logistic": (lambda x: 1.0 / (1.0 + np.exp(-x)), (-110.0, 110.0), 2),
    "erf": (_erf64, (-5.0, 5.0), 2),
    "sin": (np.sin, (-3.4e38, 3.4e38), 2),
    "cos": (np.cos, (-3.4e38, 3.4e38), 2),
}

_SPECIALS32 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38,
                        -1.1754942e-38, 3.4028235e38, -3.4028235e38, 1.0, -1.0], np.float32)


def _float32_sweep(lo, hi, n) -> np.ndarray:
    """About n float32 values evenly spaced in bit pattern (hence dense near 0) in [lo, hi]."""
    parts = []
    for a, b, sign in ((max(lo, 0.0), hi, 1), (max(-hi, 0.0), -lo, -1)):
        if b <= a:
            continue
        ia, ib = np.array([a, b], np.float32).view(np.int32).astype(np.int64)
        step = max(1, (ib - ia) // (n // 2))
        v = np.arange(ia, ib + 1, step).astype(np.int32).view(np.float32)
        parts.append(sign * v)
    return np.concatenate(parts + [_SPECIALS32[(_SPECIALS32 >= lo) & (_SPECIALS32 <= hi)
                                               | np.isnan(_SPECIALS32)]])


# float64: max ulps against NumPy's float64 functions over the sweeps (against 120-bit mpmath
# values on a subset the maxima were 1, 1, 1, 1, 2 and 1).
VMATH_F64 = {
    "exp": (np.exp, (-750.0, 712.0), 1),
    "expm1": (np.expm1, (-45.0, 712.0), 2),
    "log": (np.log, (0.0, 1.7e308), 1),
    "log1p": (np.log1p, (-1.0, 1.7e308), 1),
    "tanh": (np.tanh, (-25.0, 25.0), 3),
    "logistic": (lambda x: E.logistic_p.impl(x), (-750.0, 750.0), 2),
}


def _float64_sweep(lo, hi, n) -> np.ndarray:
    parts = []
    for a, b, sign in ((max(lo, 0.0), hi, 1), (max(-hi, 0.0), -lo, -1)):
        if b <= a:
            continue
        ia, ib = np.array([a, b], np.float64).view(np.int64)
        parts.append(sign * np.arange(ia, ib, max(1, (ib - ia) // (n // 2))).view(np.float64))
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2e-308, 1.0])
    return np.concatenate(parts + [specials])


def _ulps32(got, want):
    with np.errstate(over="ignore"):  # float64 references beyond float32's range become inf
        return ulp_diff(got.astype(np.float32), want.astype(np.float32))


_SWEEP_LOOPS: dict = {}


def _sweep_loop(name, dt="float32"):
    if (name, dt) not in _SWEEP_LOOPS:
        ns: dict = {}
        exec(scalar.IMPORTS, ns)  # noqa: S102
        exec(f"def k(x, out):\n    for i in range(x.shape[0]):\n"  # noqa: S102
             f"        out[i] = vmath.{name}_{dt}(x[i])\n", ns)
        # The flags of generated kernels (fastmath contract lets LLVM fuse multiply-adds).
        _SWEEP_LOOPS[name, dt] = numba.njit(error_model="numpy", fastmath={"contract"})(ns["k"])
    return _SWEEP_LOOPS[name, dt]


@pytest.mark.parametrize("name", sorted(VMATH_F32))
def test_vmath_float32_accuracy(name):
    ref, (lo, hi), bound = VMATH_F32[name]
    x = _float32_sweep(lo, hi, 400_000)
    out = np.empty_like(x)
    _sweep_loop(name)(x, out)
    with np.errstate(all="ignore"):
        want = ref(x.astype(np.float64))
    u = _ulps32(out, want)
    worst = int(np.argmax(u))
    assert u[worst] <= bound, (name, x[worst], out[worst], want[worst], u[worst])
    # The numba-py backend runs the same function as Python on NumPy scalars.
    idx = np.linspace(0, len(x) - 1, 300).astype(int)
    with np.errstate(all="ignore"):
        py = np.array([getattr(vmath, f"{name}_float32").py_func(v) for v in x[idx]],
                      np.float32)
    assert _ulps32(py, want[idx]).max() <= bound


def test_vmath_float32_functions_keep_float32():
    for name in sorted(VMATH_F32):
        _sweep_loop(name)(np.ones(2, np.float32), np.empty(2, np.float32))
        disp = _sweep_loop(name)
        typemap = next(iter(disp.overloads.values())).type_annotation.typemap
        f64 = [k for k, t in typemap.items() if _unexpected_float64(k, t)]
        assert not f64, (name, f64)


def test_vmath_pow_float32_accuracy():
    ns: dict = {}
    exec(scalar.IMPORTS, ns)  # noqa: S102
    exec("def k(x, y, out):\n    for i in range(x.shape[0]):\n"  # noqa: S102
         "        out[i] = vmath.pow_float32(x[i], y[i])\n", ns)
    loop = numba.njit(error_model="numpy", fastmath={"contract"})(ns["k"])
    rng = np.random.default_rng(0)
    n = 200_000
    x = np.concatenate([
        np.abs(rng.standard_normal(n)) * 10.0 ** rng.uniform(-30, 30, n),
        rng.uniform(0, 3, n), -rng.integers(1, 100, n // 4).astype(np.float64)]).astype(np.float32)
    y = np.concatenate([rng.uniform(-30, 30, n), rng.uniform(-100, 100, n),
                        rng.integers(-20, 20, n // 4)]).astype(np.float32)
    out = np.empty_like(x)
    loop(x, y, out)
    with np.errstate(all="ignore"):
        want = np.power(x.astype(np.float64), y.astype(np.float64))
    u = _ulps32(out, want)
    worst = int(np.argmax(u))
    # measured: 1 ulp
    assert u[worst] <= 1, (x[worst], y[worst], out[worst], want[worst])


# ------------------------------------------------------------------------------------------
# The numba-py backend runs the same templates as Python on NumPy scalars.


class _PyVmath:
    def __getattr__(self, name):
        f = getattr(vmath, name)
        return getattr(f, "py_func", f)


@pytest.mark.parametrize("dt", KERNEL_DTYPES, ids=str)
def test_templates_as_python_match_impl(dt):
    e = _edge_values(dt)
    ins = _inputs(dt, e, np.roll(e, 1), np.roll(e, 2))
    failures = []
    for case in _cases(dt):
        expr = scalar.emit(case.prim, case.params, [f"{r}_" for r in case.roles], case.in_avals,
                           case.out_aval)
        ns: dict = {}
        exec(scalar.IMPORTS, ns)  # noqa: S102
        ns["vmath"] = _PyVmath()
        fn = eval(f"lambda {', '.join(r + '_' for r in case.roles)}: {expr}", ns)  # noqa: S307
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = np.array([fn(*[ins[r][i] for r in case.roles]) for i in range(len(e))])
        want = _reference(case, ins)
        with np.errstate(all="ignore"):
            got = got.astype(want.dtype)
        bad = _mismatch(case, got, want)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            failures.append(f"{case.label}{tuple(ins[r][i] for r in case.roles)}: "
                            f"got {got[i]!r}, impl {want[i]!r}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", sorted(VMATH_F64))
def test_vmath_float64_accuracy(name):
    ref, (lo, hi), bound = VMATH_F64[name]
    x = _float64_sweep(lo, hi, 200_000)
    out = np.empty_like(x)
    _sweep_loop(name, "float64")(x, out)
    with np.errstate(all="ignore"):
        want = ref(x)
    u = ulp_diff(out, want)
    worst = int(np.argmax(u))
    assert u[worst] <= bound, (name, x[worst], out[worst], want[worst], u[worst])
    idx = np.linspace(0, len(x) - 1, 200).astype(int)
    with np.errstate(all="ignore"):
        py = np.array([getattr(vmath, f"{name}_float64").py_func(v) for v in x[idx]])
    assert ulp_diff(py, want[idx]).max() <= bound


def test_every_elementwise_primitive_has_a_template():
    prims = [*E.UNARY, *E.BINARY, E.select_n_p, E.clamp_p, E.convert_element_type_p, E.copy_p,
             E.stop_gradient_p, add_any_p]
    missing = [p.name for p in prims if not scalar.has_rule(p)]
    assert not missing, missing
    # float16 has no Numba arithmetic on the CPU; a few complex functions stay library steps.
    f16, c64 = ShapedArray((), dtypes.float16), ShapedArray((), dtypes.complex64)
    assert not scalar.supports(E.add_p, [f16, f16], f16)
    assert not scalar.supports(E.tanh_p, [c64], c64)
    assert scalar.supports(E.mul_p, [c64, c64], c64)
    with pytest.raises(NotImplementedError):
        scalar.emit(E.add_p, {}, ["a", "b"], [f16, f16], f16)
