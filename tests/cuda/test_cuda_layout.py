"""funcgrad.lowering.cuda_layout against the primitives' NumPy impls.

Each case traces a small funcgrad.numpy / lax program with ``fg.make_jaxpr`` and walks its
equations on the host with the impls; every equation that cuda_layout lowers is also run on the
device from the same operands, and the results must agree (exactly for ints and data movement,
to rounding for float sums). Shapes are tiny: on the simulator every thread runs as Python.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import core, lax
from funcgrad.lowering import cuda_layout, cuda_runtime, interpret

RNG = np.random.default_rng(0)


def _f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _shares_memory(a, b):
    if cuda_runtime.simulator():
        return np.shares_memory(a._ary, b._ary)
    lo = [x.__cuda_array_interface__["data"][0] for x in (a, b)]
    return a.size and b.size and lo[0] < lo[1] + b.nbytes and lo[1] < lo[0] + a.nbytes


def check(fn, *args, expect=(), exact=True):
    """Runs every cuda_layout lowering in ``fn``'s jaxpr against its impl; returns the names
    checked and asserts that ``expect`` are among them."""
    closed = fg.make_jaxpr(fn)(*args)
    jaxpr = closed.jaxpr
    env = dict(zip(jaxpr.constvars, (np.asarray(c) for c in closed.consts)))
    env.update(zip(jaxpr.invars, (np.asarray(a) for a in args)))
    checked = []
    for eqn in jaxpr.eqns:
        ins = [np.asarray(a.val, a.aval.dtype) if isinstance(a, core.Literal) else env[a]
               for a in eqn.invars]
        with np.errstate(all="ignore"):
            want = interpret.as_aval(eqn.prim.impl(*ins, **eqn.params), eqn.outvars[0].aval)
        env[eqn.outvars[0]] = want
        lower = cuda_layout.LOWERINGS.get(eqn.prim.name)
        run = lower(eqn) if lower is not None else None
        if run is None:
            continue
        dev = [cuda_runtime.to_device(np.ascontiguousarray(x)) for x in ins]
        got = run(*dev)
        assert got.shape == want.shape and got.dtype == want.dtype, (eqn, got.shape, got.dtype)
        assert not any(_shares_memory(got, d) for d in dev), f"{eqn} aliases an operand"
        host = got.copy_to_host()
        if exact or want.dtype.kind not in "fc":
            np.testing.assert_array_equal(host, want, err_msg=str(eqn))
        else:
            tol = 1e-5 if want.dtype in (np.float32, np.complex64) else 1e-12
            np.testing.assert_allclose(host, want, rtol=tol, atol=tol, err_msg=str(eqn))
        checked.append(eqn.prim.name)
    missing = set(expect) - set(checked)
    assert not missing, f"not lowered: {missing} (checked {checked})"
    return checked


X = _f32(3, 4)
X3 = _f32(2, 3, 4)
IDX = np.array([2, 0, 2], np.int32)

LAYOUT_CASES = {
    "T": (lambda x: x.T, (X,), {"transpose"}),
    "T_batched": (lambda x: fnp.swapaxes(x, 1, 2), (X3,), {"transpose"}),
    "T_201": (lambda x: fnp.transpose(x, (2, 0, 1)), (X3,), {"transpose"}),
    "T_102": (lambda x: fnp.transpose(x, (1, 0, 2)), (X3,), {"transpose"}),
    "T_210": (lambda x: fnp.transpose(x, (2, 1, 0)), (X3,), {"transpose"}),
    "T_wide": (lambda x: x.T, (_f32(5, 37),), {"transpose"}),
    "T_bool": (lambda x: x.T, (X > 0,), {"transpose"}),
    "T_int8": (lambda x: x.T, (np.arange(12, dtype=np.int8).reshape(3, 4),), {"transpose"}),
    "T_f16": (lambda x: x.T, (X.astype(np.float16),), {"transpose"}),
    "T_c128": (lambda x: x.T, ((X + 1j * X).astype(np.complex128),), {"transpose"}),
    "T_empty": (lambda x: x.T, (_f32(0, 3),), {"transpose"}),
    "T_c64": (lambda x: fnp.swapaxes(x, 0, 2), ((X3 - 2j).astype(np.complex64),),
              {"transpose"}),
    "broadcast_row": (lambda x, r: fnp.broadcast_to(r, x.shape) + 0 * x, (X, _f32(4)),
                      {"broadcast_in_dim"}),
    "broadcast_col": (lambda x: fnp.broadcast_to(x[:, :1], (2, 3, 4)), (X,),
                      {"broadcast_in_dim"}),
    "expand_dims": (lambda x: fnp.expand_dims(x, 1), (X,), {"broadcast_in_dim"}),
    "reshape": (lambda x: x.reshape(4, 3), (X,), {"reshape"}),
    "squeeze": (lambda x: fnp.squeeze(x, 1), (_f32(3, 1, 2),), {"squeeze"}),
    "copy": (lambda x: fnp.copy(x), (X,), {"copy"}),
    "slice_rows": (lambda x: x[1:3], (X,), {"slice"}),
    "slice_strided": (lambda x: x[1:3, ::2], (X,), {"slice"}),
    "slice_3d": (lambda x: x[:, 1:, 1:4:2], (X3,), {"slice"}),
    "rev": (lambda x: fnp.flip(x, 0), (X,), {"rev"}),
    "rev_all": (lambda x: fnp.flip(x), (X3,), {"rev"}),
    "rev_neg_step": (lambda x: x[::-1, 1::2], (X,), set()),
    "pad": (lambda x: fnp.pad(x, ((1, 2), (0, 1))), (X,), {"pad"}),
    "pad_interior_negative": (lambda x: lax.pad(x, np.float32(0.5), ((1, -1, 1), (-2, 0, 2))),
                              (X,), {"pad"}),
    "pad_crop_interior": (lambda x: lax.pad(x, np.float32(9), ((0, -2, 1), (0, 0, 0))),
                          (X,), {"pad"}),
    "pad_images": (lambda x: fnp.pad(x, ((0, 0), (0, 0), (1, 1), (2, 0))), (_f32(2, 2, 2, 3),),
                   {"pad"}),
    "pad_empty": (lambda x: lax.pad(x, np.float32(3), ((1, 1, 0), (2, 0, 1))), (_f32(2, 0),),
                  {"pad"}),
    "pad_int": (lambda x: fnp.pad(x, ((1, 0),), constant_values=7), (IDX,), {"pad"}),
    "concat0": (lambda x, y: fnp.concatenate([x, y]), (X, _f32(2, 4)), {"concatenate"}),
    "concat1": (lambda x, y: fnp.concatenate([x, y, x], axis=1), (X, _f32(3, 1)),
                {"concatenate"}),
    "concat_empty": (lambda x, y: fnp.concatenate([x, y], axis=1), (X, _f32(3, 0)),
                     {"concatenate"}),
    "stack": (lambda x, y: fnp.stack([x, y], axis=-1), (X, X + 1), {"concatenate"}),
    "iota": (lambda: lax.broadcasted_iota(np.int32, (3, 4), 1), (), {"iota"}),
    "iota_f32": (lambda: lax.broadcasted_iota(np.float32, (2, 3, 2), 1), (), {"iota"}),
    "iota_c64": (lambda: lax.broadcasted_iota(np.complex64, (4,), 0), (), {"iota"}),
    "iota_u8": (lambda: lax.broadcasted_iota(np.uint8, (3, 2), 0), (), {"iota"}),
    "one_hot": (lambda y: fg.nn.one_hot(y, 4), (IDX,), {"iota"}),
}


@pytest.mark.parametrize("name", list(LAYOUT_CASES))
def test_layout(name):
    fn, args, expect = LAYOUT_CASES[name]
    check(fn, *args, expect=expect)


def _ds(x, i, j):
    return lax.dynamic_slice(x, (i, j), (2, 3))


def _dus(x, u, i, j):
    return lax.dynamic_update_slice(x, u, (i, j))


@pytest.mark.parametrize("i,j", [(1, 0), (5, -7), (-1, 2), (0, 1)])
def test_dynamic_slice_clamps_on_the_device(i, j):
    check(_ds, X, np.int32(i), np.int32(j), expect={"dynamic_slice"})
    check(_dus, X, _f32(2, 3), np.int32(i), np.int32(j), expect={"dynamic_update_slice"})


def test_dynamic_slice_mixed_and_unsigned_start_dtypes():
    check(_ds, X, np.int64(2), np.int32(1), expect={"dynamic_slice"})
    check(_ds, X, np.uint32(1), np.uint32(9), expect={"dynamic_slice"})
    check(_dus, X3[0], _f32(2, 3), np.uint8(1), np.int64(-1), expect={"dynamic_update_slice"})
    check(lambda x, i: lax.dynamic_slice(x, (i,), (2,)), IDX, np.uint64(2 ** 63 + 5),
          expect={"dynamic_slice"})
    check(_ds, X, np.uint64(2 ** 63 + 5), np.int32(1), expect={"dynamic_slice"})


def test_dynamic_slice_of_a_scalar():
    s = np.float32(2.5)
    check(lambda x: lax.dynamic_slice(x, (), ()), s, expect={"dynamic_slice"})
    check(lambda x, u: lax.dynamic_update_slice(x, u, ()), s, np.float32(-1),
          expect={"dynamic_update_slice"})


def test_dynamic_slice_in_a_scan_style_row_update():
    check(lambda x, i: lax.dynamic_update_slice(x, x[i][None] * 2, (i, 0)), X, np.int32(2),
          expect={"dynamic_update_slice", "dynamic_slice"})


J = np.array([[1, 0], [3, 3]], np.int64)
IDX_OOB = np.array([0, 7, -9, 2], np.int32)

INDEXING_CASES = {
    "take_rows": (lambda x, i: x[i], (X, IDX), {"gather"}),
    "take_cols": (lambda x, i: x[:, i], (X, IDX), {"gather"}),
    "take_2d": (lambda x, j: x[j], (X, J), {"gather"}),
    "take_pairs": (lambda x, i, j: x[i, j[0]], (X, IDX[:2], J), {"gather"}),
    "take_slice_mix": (lambda x, i: x[1:, i[:2], ::2], (X3.transpose(1, 0, 2), IDX), {"gather"}),
    "take_scalar": (lambda x, i: x[i[0], 2], (X, IDX), set()),
    "take_fill": (lambda x, i: fnp.take(x, i, axis=1, mode="fill"), (X, IDX_OOB), {"gather"}),
    "take_fill_value": (lambda x, i: fnp.take(x, i, axis=0, mode="fill", fill_value=-3.0),
                        (X, IDX_OOB), {"gather"}),
    "take_fill_int": (lambda x, i: fnp.take(x, i, mode="fill"), (IDX, IDX_OOB), {"gather"}),
    "take_clip": (lambda x, i: fnp.take(x, i, axis=1, mode="clip"), (X, IDX_OOB), {"gather"}),
    "take_along_axis": (lambda x, j: fnp.take_along_axis(x, j, axis=1),
                        (X, np.array([[3, 0], [1, 1], [2, 3]])), {"gather"}),
    "take_bool": (lambda x, i: x[i], (X > 0, IDX), {"gather"}),
    "take_c128": (lambda x, i: fnp.take(x, i, mode="fill"), (X.astype(np.complex128) * 1j,
                                                              IDX_OOB), {"gather"}),
    "take_u8_index": (lambda x, i: x[i], (X, IDX.astype(np.uint8)), {"gather"}),
    "vmap_take": (lambda x, j: fg.vmap(lambda v, i: v[i])(x, j), (X, J[:, :1].repeat(3, 0)[:3]),
                  {"gather"}),
    "add_at": (lambda x, i, u: x.at[i].add(u), (X, IDX, _f32(3, 4)), {"scatter_add"}),
    "add_at_cols": (lambda x, i, u: x.at[:, i].add(u), (X, IDX, _f32(3, 3)), {"scatter_add"}),
    "add_at_int": (lambda x, i: x.at[i].add(5), (IDX, IDX), {"scatter_add"}),
    "add_at_u64": (lambda x, i: x.at[i].add(np.uint64(2 ** 40)), (IDX.astype(np.uint64), IDX),
                   {"scatter_add"}),
    "add_at_drop": (lambda x, i: x.at[i].add(1.0, mode="drop"), (X, IDX_OOB), {"scatter_add"}),
    "add_at_clip": (lambda x, i: x.at[i].add(1.0, mode="clip"), (X, IDX_OOB), {"scatter_add"}),
    "add_at_c64": (lambda x, i: x.at[i].add(1 + 2j), (X.astype(np.complex64), IDX),
                   {"scatter_add"}),
    "grad_of_take": (lambda x, i: fg.grad(lambda v: (v[i] ** 2).sum())(x), (X, IDX),
                     {"gather", "scatter_add"}),
    "vmap_add_at": (lambda x, j, u: fg.vmap(lambda v, i, w: v.at[i].add(w))(x, j, u),
                    (X, np.array([[1, 1], [0, 3], [2, 2]]), _f32(3, 2)), {"scatter_add"}),
    "set_at_duplicates": (lambda x, i, u: x.at[i].set(u), (X, IDX, _f32(3, 4)), {"scatter"}),
    "set_at_2d": (lambda x, j, u: x.at[j].set(u), (_f32(5), J, _f32(2, 2)), {"scatter"}),
    "set_at_drop": (lambda x, i: x.at[i].set(3.0, mode="drop"), (X, IDX_OOB), {"scatter"}),
    "set_at_bool": (lambda x, i: x.at[i].set(True), (X > 0, IDX), {"scatter"}),
    "set_at_window_first": (lambda x, i, u: x.at[:, i].set(u), (X, IDX, _f32(3, 3)), {"scatter"}),
    "max_at": (lambda x, i, u: x.at[i].max(u), (X, IDX, _f32(3, 4)), {"scatter_max"}),
    "min_at_nan": (lambda x, i, u: x.at[i].min(u), (X, IDX, np.where(X > 1, np.nan, X)),
                   {"scatter_min"}),
    "max_at_nan_operand": (lambda x, i: x.at[i].max(0.0), (np.where(X > 1, np.nan, X), IDX),
                           {"scatter_max"}),
    "min_at_int64": (lambda x, i: x.at[i].min(np.int64(-4)), (IDX.astype(np.int64) * 3, IDX),
                     {"scatter_min"}),
    "mul_at_int": (lambda x, i: x.at[i].multiply(np.int32(-3)), (IDX + 1, IDX), {"scatter_mul"}),
    "argmax": (lambda x: fnp.argmax(x, axis=1), (np.array([[1, 3, 3, 0], [2, np.nan, 5, np.nan],
                                                            [0, 0, 0, 0]], np.float32),),
               {"argmax"}),
    "argmin_axis0": (lambda x: fnp.argmin(x, axis=0), (X3,), {"argmin"}),
    "argmax_int": (lambda x: fnp.argmax(x, axis=0), (J,), {"argmax"}),
    "argmax_bool": (lambda x: fnp.argmax(x, axis=1), (X > 0.5,), {"argmax"}),
    "argmax_no_rows": (lambda x: fnp.argmax(x, axis=1), (_f32(0, 3),), {"argmax"}),
    "set_at_nothing": (lambda x, i: x.at[i].set(1.0), (X, IDX[:0]), {"scatter"}),
    "argmax_flat": (lambda x: fnp.argmax(x), (X3,), {"argmax"}),
}


@pytest.mark.parametrize("name", list(INDEXING_CASES))
def test_indexing(name):
    fn, args, expect = INDEXING_CASES[name]
    check(fn, *args, expect=expect, exact=name not in ("add_at", "add_at_cols", "add_at_c64",
                                                         "grad_of_take", "vmap_add_at"))


@pytest.mark.parametrize("dtype", [np.float32, np.uint32])
def test_long_rows_reduce_in_one_block(dtype):
    # Rows of at least 32 elements (the simulator's block) take the block-per-row kernel.
    x = RNG.integers(0, 50, (2, 150)).astype(dtype)
    x[0, [7, 140]] = 60  # a tie for the maximum: the first wins
    x[1, [3, 90]] = 0
    if dtype in (np.float32, np.float64):
        x[1, [100, 120]] = np.nan
    check(lambda v: (fnp.argmax(v, axis=1), fnp.argmin(v, axis=1)), x,
          expect={"argmax", "argmin"})


NAN_ROWS = np.where(_f32(3, 20) > 1.2, np.nan, _f32(3, 20))

SCAN_CASES = {
    "cumsum": (lambda x: fnp.cumsum(x, axis=1), (X,)),
    "cumsum_reverse_axis0": (lambda x: lax.cumsum(x, 0, reverse=True), (X3,)),
    "cumsum_int8_wraps": (lambda x: lax.cumsum(x, 0), (np.full(7, 100, np.int8),)),
    "cumsum_c64": (lambda x: lax.cumsum(x, 1), ((X + 1j).astype(np.complex64),)),
    "cumprod_int": (lambda x: lax.cumprod(x, 0, reverse=True), (J + 1,)),
    "cummax_nan": (lambda x: lax.cummax(x, 1), (NAN_ROWS,)),
    "cummin_nan_reverse": (lambda x: lax.cummin(x, 1, reverse=True), (NAN_ROWS,)),
    "cummax_uint": (lambda x: lax.cummax(x, 0), (np.array([3, 1, 7, 7, 2], np.uint32),)),
    "cumlogsumexp": (lambda x: lax.cumlogsumexp(x, 1), (np.array(
        [[0, -np.inf, 3, np.inf], [-np.inf, -np.inf, 1, 1], [2, np.nan, 1, 0]], np.float32),)),
    # Long lines, few of them: the chunked three-kernel scan.
    "chunked_cumsum": (lambda x: lax.cumsum(x, 0), (_f32(150),)),
    "chunked_cumsum_int": (lambda x: lax.cumsum(x, 1, reverse=True),
                           (RNG.integers(-9, 9, (2, 70)).astype(np.int32),)),
    "chunked_cummax_inner": (lambda x: lax.cummax(x, 0), (np.where(_f32(60, 3) > 1.5, np.nan,
                                                                   _f32(60, 3)),)),
    "chunked_cumlogsumexp": (lambda x: lax.cumlogsumexp(x, 0, reverse=True), (_f32(40),)),
    "empty": (lambda x: lax.cumsum(x, 1), (_f32(0, 30),)),
}


@pytest.mark.parametrize("name", list(SCAN_CASES))
def test_cumulative(name):
    fn, args = SCAN_CASES[name]
    prim = name.split("_")[1] if name.startswith("chunked") else name.split("_")[0]
    check(fn, *args, expect={"cumsum" if prim == "empty" else prim}, exact=False)


def test_scatter_into_an_empty_operand_writes_nothing():
    # Clamping a start into an empty axis would point outside the operand.
    dn = lax.ScatterDimensionNumbers((1,), (0,), (0,))
    for scatter in (lax.scatter_add, lax.scatter, lax.scatter_max):
        check(lambda x, i, u, f=scatter: f(x, i, u, dn, mode="clip"), _f32(0, 3), J[:, :1],
              _f32(2, 3), expect={scatter.__name__})


def _eqn(fn, *args, name):
    return next(e for e in fg.make_jaxpr(fn)(*args).jaxpr.eqns if e.prim.name == name)


def test_unsupported_cases_fall_back_to_the_host():
    lower = cuda_layout.LOWERINGS
    for dtype in (np.int8, np.bool_, np.float16):
        eqn = _eqn(lambda x, i: x.at[i].add(x[0]), np.ones(3, dtype), IDX, name="scatter_add")
        assert lower["scatter_add"](eqn) is None
    eqn = _eqn(lambda x, i: x.at[i].max(x[0]), np.ones(3, np.int16), IDX, name="scatter_max")
    assert lower["scatter_max"](eqn) is None
    eqn = _eqn(lambda x, i: x.at[i].multiply(2.0), X, IDX, name="scatter_mul")
    assert lower["scatter_mul"](eqn) is None
    eqn = _eqn(lambda x: fnp.argmax(x), X.astype(np.complex64), name="argmax")
    assert lower["argmax"](eqn) is None
    eqn = _eqn(lambda: lax.broadcasted_iota(np.float16, (3,), 0), name="iota")
    assert lower["iota"](eqn) is None
    eqn = _eqn(lambda x: lax.cumsum(x, 0), X.astype(np.float16), name="cumsum")
    assert lower["cumsum"](eqn) is None
    assert "sort" not in lower


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_drawn_slices_pads_and_transposes(data):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    x = np.arange(np.prod(shape), dtype=np.int32).reshape(shape)
    perm = tuple(data.draw(st.permutations(range(len(shape)))))
    starts = [data.draw(st.integers(0, d - 1)) for d in shape]
    steps = [data.draw(st.integers(1, 3)) for _ in shape]
    config = [(data.draw(st.integers(-1, 2)), data.draw(st.integers(-1, 2)),
               data.draw(st.integers(0, 2))) for _ in shape]
    config = [(lo, hi, it) if lo + hi + d + (d - 1) * it >= 0 else (0, 0, it)
              for (lo, hi, it), d in zip(config, shape)]

    def fn(v):
        return (fnp.transpose(v, perm),
                lax.slice(v, starts, shape, steps),
                lax.pad(v, np.int32(-1), config),
                fnp.flip(v, perm[0]))
    check(fn, x, expect={"slice", "pad", "rev"} | ({"transpose"} if list(perm) != sorted(perm)
                                                   else set()))
