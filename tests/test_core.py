"""The IR, tracing, printing, checking, dtypes and configuration."""
import os
import subprocess
import sys
from collections import namedtuple

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import core, dtypes, errors, lax
from funcgrad.core import ClosedJaxpr, Eqn, Jaxpr, Literal, ShapedArray, Var

f32, f64, i32 = np.dtype("float32"), np.dtype("float64"), np.dtype("int32")


# ---------------------------------------------------------------- avals

def test_shaped_array_basics():
    a = ShapedArray((3, 4), "float32")
    assert a.ndim == 2 and a.size == 12 and a.str_short() == "f32[3,4]"
    assert a == ShapedArray((3, 4), f32) and a != ShapedArray((3, 4), f32, weak_type=True)
    assert hash(a) == hash(ShapedArray((3, 4), f32))
    assert ShapedArray((), "int32").to_tangent_aval().dtype == dtypes.float0
    assert ShapedArray((2,), "float64").to_tangent_aval() == ShapedArray((2,), f64)


@pytest.mark.parametrize("value, expected", [
    (1.0, ShapedArray((), f32, True)),
    (1, ShapedArray((), i32, True)),
    (True, ShapedArray((), np.bool_, False)),
    (np.float64(1.0), ShapedArray((), f64)),
    (np.ones((2, 3), np.float64), ShapedArray((2, 3), f64)),
    (np.int8(3), ShapedArray((), np.int8)),
])
def test_get_aval(value, expected):
    assert core.get_aval(value) == expected


def test_get_aval_rejects_non_arrays():
    with pytest.raises(TypeError, match="str"):
        core.get_aval("hello")
    with pytest.raises(TypeError, match="not supported"):
        core.get_aval(np.array(["a"]))


# ---------------------------------------------------------------- promotion

W = True
PROMOTION_TABLE = [
    # ((dtype, weak), (dtype, weak)) -> (dtype, weak); JAX's documented lattice.
    (("int32", False), ("float32", False), ("float32", False)),
    (("int8", False), ("int32", False), ("int32", False)),
    (("uint8", False), ("int8", False), ("int16", False)),
    (("uint32", False), ("int32", False), ("int64", False)),
    (("bool", False), ("int8", False), ("int8", False)),
    (("float32", False), ("float64", False), ("float64", False)),
    (("float16", False), ("float32", False), ("float32", False)),
    (("float32", False), ("complex64", False), ("complex64", False)),
    (("float64", False), ("complex64", False), ("complex128", False)),
    (("float32", False), ("float32", W), ("float32", False)),   # x32 * 2.0
    (("int8", False), ("int32", W), ("int8", False)),           # i8 + 1
    (("int8", False), ("float32", W), ("float32", True)),       # i8 * 2.0 -> weak float
    (("float16", False), ("float32", W), ("float16", False)),
    (("float64", W), ("float32", W), ("float32", True)),        # weak + weak: default float
    (("int32", W), ("float32", W), ("float32", True)),
    (("bool", False), ("int32", W), ("int32", True)),
    (("uint64", False), ("int64", False), ("float32", True)),
]


@pytest.mark.parametrize("a, b, expected", PROMOTION_TABLE)
def test_result_type_table(a, b, expected):
    got = dtypes.result_type((np.dtype(a[0]), a[1]), (np.dtype(b[0]), b[1]))
    assert (got[0].name, got[1]) == expected
    assert dtypes.result_type((np.dtype(b[0]), b[1]), (np.dtype(a[0]), a[1])) == got


def test_result_type_single_weak_keeps_dtype():
    assert dtypes.result_type((f64, True)) == (f64, True)


# ---------------------------------------------------------------- printing

def test_issue_example_prints():
    x = np.linspace(0, 1, 5).astype(np.float32)
    text = str(fg.make_jaxpr(lambda a, b: fnp.sin(a) * b)(x, x))
    assert text == ("{ lambda ; a:f32[5] b:f32[5]. let c:f32[5] = sin a; d:f32[5] = mul c b "
                    "in (d,) }")


def test_multiline_print_params_literals_and_consts():
    c = np.arange(4.0)

    def f(x):
        y = lax.broadcast_in_dim(x, (2, 4), (1,))
        return fnp.add(y, 1.5), fnp.multiply(x, c)

    text = str(fg.make_jaxpr(f)(np.ones(4)))
    assert text == """{ lambda a:f64[4] ; b:f64[4]. let
    c:f64[2,4] = broadcast_in_dim[shape=(2, 4) broadcast_dimensions=(1,)] b
    d:f64[2,4] = broadcast_in_dim[shape=(2, 4) broadcast_dimensions=()] 1.5:f64[]
    e:f64[2,4] = add c d
    f:f64[4] = mul b a
  in (e, f) }"""


def test_names_beyond_z():
    def f(x):
        for _ in range(30):
            x = lax.neg(x)
        return x
    text = str(fg.make_jaxpr(f)(1.0))
    assert "ba:f32[] = neg z" in text and "be:f32[] = neg bd" in text


def test_fingerprint_stable_across_processes():
    code = ("import numpy as np, funcgrad as fg, funcgrad.numpy as fnp;"
            "from funcgrad import pretty;"
            "print(pretty.fingerprint(fg.make_jaxpr(lambda a: fnp.sin(a) * 2.0)"
            "(np.ones(3, np.float32))))")
    env = dict(os.environ, PYTHONHASHSEED="0")
    out1 = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    env["PYTHONHASHSEED"] = "1"
    out2 = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out1.returncode == 0, out1.stderr
    assert out1.stdout == out2.stdout and len(out1.stdout.strip()) == 64


# ---------------------------------------------------------------- make_jaxpr

def test_make_jaxpr_pytrees_kwargs_and_static_args():
    Pair = namedtuple("Pair", "a b")

    def f(p, n, *, scale):
        return {"out": [fnp.multiply(p.a, n), p.b], "s": fnp.multiply(scale, 2.0)}

    closed, shapes = fg.make_jaxpr(f, static_argnums=1, return_shape=True)(
        Pair(np.ones(2, np.float32), np.zeros(3)), 3, scale=np.float32(1.0))
    assert [a.str_short() for a in closed.in_avals] == ["f32[2]", "f64[3]", "f32[]"]
    assert shapes["out"][0].shape == (2,) and shapes["out"][1].dtype == f64
    assert shapes["s"] == ShapedArray((), f32)
    assert "3.0:f32[]" in str(closed)  # the static int became a weak literal


def test_make_jaxpr_records_user_source_lines():
    def f(x):
        return fnp.sin(x)  # the line recorded for the sin equation
    closed = fg.make_jaxpr(f)(1.0)
    (eqn,) = closed.eqns
    assert eqn.source.file == __file__ and eqn.source.function == "f"
    assert "the line recorded" in eqn.source.source_line()


def test_make_jaxpr_rejects_string_arguments_by_name():
    with pytest.raises(TypeError, match="argument `label`"):
        fg.make_jaxpr(lambda x, label: x)(1.0, "cat")


def test_omnistaging_stages_constant_only_operations():
    closed = fg.make_jaxpr(lambda x: fnp.add(x, fnp.sin(np.float32(1.0))))(np.float32(2.0))
    assert [e.prim.name for e in closed.eqns] == ["sin", "add"]


def test_closed_jaxpr_evaluates():
    closed = fg.make_jaxpr(lambda x, y: fnp.subtract(fnp.multiply(x, y), 1))(
        np.arange(3.0), np.full(3, 2.0))
    (out,) = closed(np.arange(3.0), np.full(3, 2.0))
    np.testing.assert_array_equal(np.asarray(out), [-1.0, 1.0, 3.0])


def test_nested_make_jaxpr_closes_over_outer_tracers():
    inner = {}

    def outer(x):
        inner["jaxpr"] = fg.make_jaxpr(lambda y: fnp.multiply(x, y))(1.0)
        return x

    fg.make_jaxpr(outer)(2.0)
    jaxpr = inner["jaxpr"]
    assert len(jaxpr.jaxpr.constvars) == 1 and isinstance(jaxpr.consts[0], core.Tracer)


# ---------------------------------------------------------------- check_jaxpr

def _var(shape=(3,), dtype=f32):
    return Var(ShapedArray(shape, dtype))


def test_check_jaxpr_accepts_traced_jaxprs():
    closed = fg.make_jaxpr(lambda x: fnp.sin(fnp.add(x, x)))(np.ones(3, np.float32))
    core.check_jaxpr(closed.jaxpr)


def test_check_jaxpr_unbound_variable():
    a, b, c = _var(), _var(), _var()
    eqn = Eqn(core.PRIMITIVES["sin"], [b], [c], {})
    with pytest.raises(core.JaxprTypeError, match="used before it is bound"):
        core.check_jaxpr(Jaxpr([], [a], [eqn], [c]))


def test_check_jaxpr_double_assignment():
    a, c = _var(), _var()
    sin = core.PRIMITIVES["sin"]
    eqns = [Eqn(sin, [a], [c], {}), Eqn(sin, [a], [c], {})]
    with pytest.raises(core.JaxprTypeError, match="assigned twice"):
        core.check_jaxpr(Jaxpr([], [a], eqns, [c]))


def test_check_jaxpr_wrong_output_aval():
    a, c = _var(), _var(dtype=f64)
    with pytest.raises(core.JaxprTypeError, match="abstract_eval gives"):
        core.check_jaxpr(Jaxpr([], [a], [Eqn(core.PRIMITIVES["sin"], [a], [c], {})], [c]))


def test_check_jaxpr_operand_type_error():
    a, b, c = _var(), _var((4,)), _var()
    with pytest.raises(core.JaxprTypeError, match="does not typecheck"):
        core.check_jaxpr(Jaxpr([], [a, b], [Eqn(core.PRIMITIVES["add"], [a, b], [c], {})], [c]))


def test_literal_and_closed_jaxpr_const_count():
    a = _var()
    with pytest.raises(ValueError, match="constvars"):
        ClosedJaxpr(Jaxpr([a], [], [], [a]), [])
    lit = Literal(fnp.asarray(2.0), ShapedArray((), f32, True))
    assert "2.0" in repr(lit)


# ---------------------------------------------------------------- errors

def test_same_shape_error_eager_and_staged():
    def f(x, y):
        return fnp.add(x, y)
    with pytest.raises(errors.ShapeError) as eager:
        f(np.ones(3, np.float32), np.ones(4, np.float32))
    with pytest.raises(errors.ShapeError) as staged:
        fg.make_jaxpr(f)(np.ones(3, np.float32), np.ones(4, np.float32))
    first = lambda e: str(e.value).splitlines()[0]  # noqa: E731
    assert first(eager) == first(staged)
    assert "add" in first(eager) and "f32[3]" in first(eager) and "f32[4]" in first(eager)
    for e in (eager, staged):
        assert "test_core.py" in str(e.value) and "Fix:" in str(e.value)
        assert str(e.value).rstrip().endswith("See docs/errors.md#ShapeError")
    assert "while tracing: make_jaxpr(f)" in str(staged.value)


def test_lax_level_dtype_error_names_op():
    with pytest.raises(errors.DTypeError, match=r"sin: operand has dtype int32 \(i32\[3\]\)"):
        lax.sin(np.arange(3, dtype=np.int32))
    with pytest.raises(errors.DTypeError, match=r"add: operands must have equal dtypes, got "
                                               r"f32\[2\], f64\[2\]"):
        lax.add(np.ones(2, np.float32), np.ones(2))


def test_concretization_error_names_argument():
    def f(x, flag):
        if flag > 0:  # traced: cannot decide
            return x
        return -x
    with pytest.raises(errors.ConcretizationError, match="`flag`") as e:
        fg.make_jaxpr(f)(1.0, 2.0)
    assert "funcgrad.lax.cond" in str(e.value) and "test_core.py" in str(e.value)


def test_tracer_leak_error():
    saved = []
    fg.make_jaxpr(lambda x: saved.append(fnp.multiply(x, 2.0)) or x)(1.0)
    with pytest.raises(errors.TracerLeakError, match="make_jaxpr"):
        fnp.add(saved[0], 1.0)


def test_tracer_to_numpy_error():
    with pytest.raises(errors.TracerArrayConversionError, match="funcgrad.numpy"):
        fg.make_jaxpr(lambda x: np.sin(x))(np.ones(2))


def test_traceback_filtering_hides_internal_frames():
    import traceback
    try:
        fg.make_jaxpr(lambda x: fnp.add(x, np.ones(4)))(np.ones(3))
    except errors.ShapeError as e:
        files = [f.filename for f in traceback.extract_tb(e.__traceback__)]
    internal = [f for f in files if os.sep + "funcgrad" + os.sep in f]
    # Re-raising adds the boundary's own frame; every frame below it is gone.
    assert len(files) >= 2 and internal == [fg.source_info.__file__], files


def test_errors_doc_is_in_sync():
    path = os.path.join(os.path.dirname(__file__), "..", "docs", "errors.md")
    with open(path) as f:
        assert f.read().strip() == errors.render_docs().strip(), (
            "docs/errors.md is stale: run `python -m funcgrad.docs_errors > docs/errors.md`")


def test_debug_nans_names_primitive():
    with fg.config.override(debug_nans=True):
        with pytest.raises(FloatingPointError, match="log: produced NaN"):
            lax.log(np.array([-1.0]))
    assert np.isnan(np.asarray(lax.log(np.array([-1.0])))).all()


def test_python_int_overflow():
    with pytest.raises(OverflowError, match="int32"):
        fnp.add(np.ones(2, np.int32), 2**40)


# ---------------------------------------------------------------- config and import

def test_config_update_override_and_unknown_flag():
    assert fg.config.enable_checks is True
    with fg.config.override(default_float="float64"):
        assert fnp.asarray(1.0).dtype == f64
    assert fnp.asarray(1.0).dtype == f32
    with pytest.raises(AttributeError, match="no flag"):
        fg.config.update("no_such_flag", 1)


def test_config_env_var_and_import_does_not_import_numba():
    code = ("import sys, funcgrad; print(funcgrad.config.debug_nans);"
            "print('numba' in sys.modules)")
    env = dict(os.environ, FUNCGRAD_DEBUG_NANS="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]
