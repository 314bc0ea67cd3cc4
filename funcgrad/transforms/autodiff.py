"""Autodiff APIs: jvp, linearize, vjp, grad, value_and_grad, jacfwd, jacrev, hessian.

Reverse mode is partial evaluation of forward mode followed by transposition: ``linearize``
runs the JVP under a ``PartialEvalTrace`` whose unknowns are the tangents, giving the primal
outputs now and a linear jaxpr from tangents to output tangents; ``vjp`` transposes it.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from funcgrad import core, dtypes, errors, source_info, tree_util
from funcgrad.transforms import partial_eval as pe
from funcgrad.transforms.jvp import Zero, instantiate, jvp_flat
from funcgrad.transforms.staging import argument_names, flatten_fun
from funcgrad.transforms.transpose import backward_pass


def _check_tangent_match(primals, tangents):
    for i, (p, t) in enumerate(zip(primals, tangents)):
        pa, ta = core.get_aval(p), core.get_aval(t)
        if pa.to_tangent_aval().strip_weak_type() != ta.strip_weak_type() and not (
                pa.shape == ta.shape and pa.dtype == ta.dtype):
            raise TypeError(f"jvp: primal {i} is {pa.str_short()} but its tangent is "
                            f"{ta.str_short()}; tangents must have the primal's shape and "
                            f"(for integer primals) dtype float0.")


@source_info.api_boundary
def jvp(fun: Callable, primals: Sequence, tangents: Sequence):
    """Forward-mode Jacobian-vector product.

    Args:
      fun: a function of arrays (pytrees allowed) returning arrays.
      primals: a tuple or list of arguments at which to differentiate.
      tangents: the same structure as ``primals``, one tangent per primal.

    Returns:
      ``(primals_out, tangents_out)``, with ``fun``'s output structure.

    Example:
        >>> import funcgrad as fg, funcgrad.numpy as fnp
        >>> fg.jvp(fnp.sin, (0.0,), (1.0,))
        (Array(0., dtype=float32, weak_type=True), Array(1., dtype=float32, weak_type=True))
    """
    return _jvp(fun, primals, tangents, f"jvp({source_info.fun_name(fun)})")


def _jvp(fun, primals, tangents, name):
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists of arguments, got "
                        f"{type(primals).__name__} and {type(tangents).__name__}.")
    p_leaves, in_tree = tree_util.tree_flatten((tuple(primals), {}))
    t_leaves, t_tree = tree_util.tree_flatten((tuple(tangents), {}))
    if in_tree != t_tree:
        raise TypeError(f"jvp: primals and tangents differ in structure: {in_tree} vs {t_tree}.")
    _check_tangent_match(p_leaves, t_leaves)
    flat_fun, out_tree = flatten_fun(fun, in_tree)
    p_out, t_out = jvp_flat(flat_fun, p_leaves, t_leaves, name)
    t_out = [instantiate(t) for t in t_out]
    return (tree_util.tree_unflatten(out_tree.val, p_out),
            tree_util.tree_unflatten(out_tree.val, t_out))


def linearize_flat(flat_fun, primals, transform_name="linearize"):
    """Returns ``(primals_out, linear_jaxpr)`` where ``linear_jaxpr`` is a ClosedJaxpr from
    input tangents to output tangents whose consts are the residuals."""
    trace = pe.PartialEvalTrace(core.current_trace(), transform_name)
    try:
        t_in = [trace.new_arg(core.get_aval(p).to_tangent_aval().strip_weak_type())
                for p in primals]
        with core.set_current_trace(trace):
            p_out, t_out = jvp_flat(flat_fun, primals, t_in, transform_name)
            t_out = [instantiate(t) for t in t_out]
        for p in p_out:
            if trace.is_unknown(p):
                raise AssertionError(f"internal: {transform_name} produced an unknown primal")
        lin = pe.dce_closed_jaxpr(trace.to_closed_jaxpr(t_out))
    finally:
        trace.invalidate()
    return p_out, lin


def _float0_zero(aval):
    return np.zeros(aval.shape, dtypes.float0)


def vjp_flat(flat_fun, primals, transform_name="vjp"):
    p_out, lin = linearize_flat(flat_fun, primals, transform_name)

    def pullback(cts):
        cts_in = backward_pass(lin.jaxpr, lin.consts, cts)
        return [instantiate(ct) if core.get_aval(p).dtype.kind in "fc" or type(ct) is not Zero
                else _float0_zero(core.get_aval(p).to_tangent_aval())
                for ct, p in zip(cts_in, primals)]
    return p_out, pullback, lin


@source_info.api_boundary
def linearize(fun: Callable, *primals):
    """Returns ``(primals_out, f_jvp)``, where ``f_jvp(*tangents)`` evaluates the linearized
    function (a jaxpr of tangent operations, with residuals saved from the forward pass).

    Example:
        >>> y, f_jvp = fg.linearize(fnp.sin, 0.5)
        >>> f_jvp(1.0)   # cos(0.5)
        Array(0.87758255, dtype=float32)
    """
    leaves, in_tree = tree_util.tree_flatten((primals, {}))
    flat_fun, out_tree = flatten_fun(fun, in_tree)
    p_out, lin = linearize_flat(flat_fun, leaves, f"linearize({source_info.fun_name(fun)})")

    def f_jvp(*tangents):
        t_leaves, t_tree = tree_util.tree_flatten((tangents, {}))
        if t_tree != in_tree:
            raise TypeError(f"linearize: tangents have structure {t_tree}, expected {in_tree}")
        out = core.eval_jaxpr(lin.jaxpr, lin.consts, *t_leaves)
        return tree_util.tree_unflatten(out_tree.val, out)
    return tree_util.tree_unflatten(out_tree.val, p_out), f_jvp


@source_info.api_boundary
def vjp(fun: Callable, *primals, has_aux: bool = False):
    """Reverse-mode vector-Jacobian product.

    Args:
      fun: a function of arrays (pytrees allowed).
      *primals: the arguments at which to differentiate.
      has_aux: if True, ``fun`` returns ``(out, aux)`` and ``aux`` is returned unchanged.

    Returns:
      ``(out, f_vjp)`` (and ``aux`` when ``has_aux``), where ``f_vjp(ct)`` takes a cotangent
      with the structure of ``out`` and returns a tuple of cotangents, one per primal.

    Example:
        >>> y, f_vjp = fg.vjp(fnp.sin, 0.0)
        >>> f_vjp(1.0)
        (Array(1., dtype=float32),)
    """
    return _vjp(fun, primals, has_aux, f"vjp({source_info.fun_name(fun)})")


def _is_array(x) -> bool:
    return isinstance(x, (core.Tracer, np.ndarray, np.generic)) or \
        type(getattr(x, "aval", None)) is core.ShapedArray


def _vjp(fun, primals, has_aux, name):
    leaves, in_tree = tree_util.tree_flatten((primals, {}))
    aux_info = []   # (aux treedef, non-array aux leaves by position, number of array leaves)

    def fun_main(*args, **kw):
        out = fun(*args, **kw)
        if not has_aux:
            return out
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(f"{name}: with has_aux=True the function must return a pair "
                            f"(out, aux), got {type(out).__name__}.")
        out, aux = out
        # Array leaves of aux travel as extra outputs, so they come back unboxed (as values,
        # not tracers); other leaves (strings, None, ...) are kept aside.
        aux_leaves, aux_tree = tree_util.tree_flatten(aux)
        arrays = [x for x in aux_leaves if _is_array(x)]
        others = {i: x for i, x in enumerate(aux_leaves) if not _is_array(x)}
        aux_info.append((aux_tree, others, len(arrays)))
        return out, arrays

    flat_fun, out_tree = flatten_fun(fun_main, in_tree)
    p_out, pullback, _ = vjp_flat(flat_fun, leaves, name)
    aux = None
    if has_aux:
        aux_tree, others, n_arrays = aux_info[0]
        aux_arrays = iter(p_out[len(p_out) - n_arrays:])
        p_out = p_out[:len(p_out) - n_arrays]
        aux = tree_util.tree_unflatten(aux_tree, [others[i] if i in others else next(aux_arrays)
                                                  for i in range(aux_tree.num_leaves)])
        main_tree = out_tree.val.children()[0]
    else:
        main_tree = out_tree.val
    out_avals = [core.get_aval(p) for p in p_out]
    aux_zeros = [Zero(core.get_aval(a).to_tangent_aval()) for a in
                 (tree_util.tree_leaves(aux) if has_aux else ()) if _is_array(a)]

    def f_vjp(ct):
        ct_leaves, ct_tree = tree_util.tree_flatten(ct)
        if ct_tree != main_tree:
            raise TypeError(f"vjp: cotangent has structure {ct_tree} but the output has "
                            f"{main_tree}")
        cast = []
        for i, (c, a) in enumerate(zip(ct_leaves, out_avals)):
            ca = core.get_aval(c)
            if ca.shape != a.shape:
                raise TypeError(f"vjp: cotangent {i} is {ca.str_short()} but the output is "
                                f"{a.str_short()}; they must have the same shape.")
            want = a.to_tangent_aval().dtype
            if ca.dtype != want:
                if ca.dtype.kind != want.kind and not ca.weak_type:
                    raise TypeError(f"vjp: cotangent {i} has dtype {ca.dtype} but the output "
                                    f"is {a.str_short()}; pass a {want} cotangent.")
                from funcgrad.primitives.elementwise import convert_element_type
                c = convert_element_type(c, want)
            cast.append(c)
        cts_in = pullback(cast + aux_zeros)
        args_ct, _ = tree_util.tree_unflatten(in_tree, cts_in)
        return tuple(args_ct)

    out = tree_util.tree_unflatten(main_tree, p_out)
    if has_aux:
        return out, f_vjp, aux
    return out, f_vjp


def _check_grad_inputs(fun, args, argnums, api="grad", holomorphic=False, real_only=False):
    names = argument_names(fun, args, {})
    flat_with_path = tree_util.tree_flatten_with_path(args)[0]
    for name, (path, leaf) in zip(names, flat_with_path):
        if path[0].idx not in argnums:
            continue
        dt = core.get_aval(leaf).dtype
        if holomorphic and dt.kind != "c":
            raise TypeError(errors.message(
                api, f"argument `{name}` has dtype {dt}; {api} with holomorphic=True "
                "requires complex inputs.",
                f"convert it (e.g. {name}.astype('complex64')), or drop holomorphic=True "
                "for a real input.", TypeError))
        if dt.kind not in "fc":
            raise TypeError(errors.message(
                api, f"argument `{name}` has dtype {dt}; {api} requires floating-point "
                "inputs (gradients of integer or boolean inputs are not defined).",
                f"convert it (e.g. {name}.astype('float32')) or differentiate with respect to "
                "other arguments (argnums=...).", TypeError))
        if real_only and not holomorphic and dt.kind == "c":
            raise TypeError(errors.message(
                api, f"argument `{name}` has dtype {dt}; {api} requires real inputs unless "
                "holomorphic=True (a non-holomorphic function has no complex Jacobian).",
                "pass holomorphic=True for a holomorphic function; otherwise use jvp directly, "
                "or split the input into real and imaginary parts.", TypeError))


def _check_output_dtype(api, aval, holomorphic, what="output"):
    """Real outputs, or complex ones with holomorphic=True (JAX's rule)."""
    if holomorphic and aval.dtype.kind != "c":
        raise TypeError(errors.message(
            api, f"{api} with holomorphic=True requires complex {what}s, got "
            f"{aval.str_short()}.", "drop holomorphic=True for a real-valued function.",
            TypeError))
    if not holomorphic and aval.dtype.kind == "c":
        raise TypeError(errors.message(
            api, f"{api} requires real-valued {what}s, got {aval.str_short()}.",
            "pass holomorphic=True for a holomorphic function (then the result is f'(z)); "
            "otherwise differentiate fnp.real(...) and fnp.imag(...) of the output "
            "separately, or use vjp directly.", TypeError))


def value_and_grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False):
    """Returns a function computing ``fun``'s value and its gradient w.r.t. ``argnums``.

    Args:
      fun: a function returning a real scalar (or ``(scalar, aux)`` when ``has_aux``).
      argnums: an int or a tuple of ints: which positional arguments to differentiate.
      has_aux: whether ``fun`` returns an auxiliary value alongside the scalar.
      holomorphic: ``fun`` is a holomorphic function of complex inputs with a complex
        scalar output; the gradient is then the complex derivative ``f'(z)``.

    For a real-valued ``fun`` of a complex ``z = x + iy`` the gradient is JAX's:
    ``df/dx - i df/dy``, the conjugate of the steepest-ascent direction (so
    ``grad(lambda z: fnp.abs(z) ** 2)(3 + 4j)`` is ``6 - 8j``; step along its conjugate).

    Returns:
      A function returning ``(value, grad)`` (``((value, aux), grad)`` when ``has_aux``);
      ``grad`` has the structure of the selected argument, or a tuple for a tuple ``argnums``.

    Example:
        >>> fg.value_and_grad(lambda x: (x ** 2).sum())(fnp.arange(3.0))
        (Array(5., dtype=float32), Array([0., 2., 4.], dtype=float32))
    """
    multiple = not isinstance(argnums, int)

    @functools.wraps(fun)
    @source_info.api_boundary
    def value_and_grad_f(*args, **kwargs):
        idx, partial_fun = _select_args("grad", fun, argnums, args, kwargs,
                                        holomorphic=holomorphic)

        out, f_vjp, *aux = _vjp(partial_fun, [args[i] for i in idx], has_aux,
                                f"grad({source_info.fun_name(fun)})")
        aval = core.get_aval(out) if core.is_arraylike(out) else None
        if aval is None or aval.shape != () or aval.dtype.kind not in "fc":
            got = aval.str_short() if aval is not None else type(out).__name__
            raise TypeError(errors.message(
                "grad", f"grad requires a real scalar output, got {got}.",
                "use vjp or jacrev for non-scalar outputs, or reduce the output (e.g. .sum()).",
                TypeError))
        _check_output_dtype("grad", aval, holomorphic)
        from funcgrad.array import Array
        ones = Array(np.ones((), aval.dtype))
        grads = f_vjp(ones)
        g = grads if multiple else grads[0]
        return ((out, aux[0]) if has_aux else out), g

    return value_and_grad_f


def grad(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False):
    """Returns a function computing the gradient of scalar-valued ``fun``.

    Args:
      fun: a function returning a real scalar (or ``(scalar, aux)`` when ``has_aux``).
      argnums: which positional argument(s) to differentiate (int or tuple).
      has_aux: whether ``fun`` returns ``(scalar, aux)``; then ``(grad, aux)`` is returned.
      holomorphic: for a holomorphic ``fun`` of complex inputs with a complex output:
        returns the complex derivative (``grad(fnp.sin, holomorphic=True)(z) == cos(z)``).
        Without it a complex output raises a TypeError.

    Complex inputs of a real-valued ``fun`` get JAX's convention, ``df/dx - i df/dy`` for
    ``z = x + iy``: ``grad(lambda z: fnp.abs(z) ** 2)(3 + 4j)`` is ``6 - 8j``.

    Returns:
      A function with ``fun``'s signature returning the gradient.

    Example:
        >>> fg.grad(lambda x: fnp.sin(x))(0.0)
        Array(1., dtype=float32)
    """
    vg = value_and_grad(fun, argnums, has_aux, holomorphic)

    @functools.wraps(fun)
    @source_info.api_boundary
    def grad_f(*args, **kwargs):
        value_aux, g = vg(*args, **kwargs)
        return (g, value_aux[1]) if has_aux else g
    return grad_f


def _select_args(api: str, fun, argnums, args, kwargs, holomorphic=False, real_only=False):
    """Validates ``argnums`` and returns ``(indices, f)`` with ``f(*selected_args)``."""
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    nargs = len(args)
    for n in nums:
        if not isinstance(n, int) or not -nargs <= n < nargs:
            raise ValueError(f"{api}: argnums {argnums} out of range for {nargs} positional "
                             "arguments")
    idx = tuple(n % nargs for n in nums)
    _check_grad_inputs(fun, args, idx, api, holomorphic, real_only)

    def partial_fun(*diff_args):
        full = list(args)
        for i, a in zip(idx, diff_args):
            full[i] = a
        return fun(*full, **kwargs)
    return idx, partial_fun


def _split_aux(api, out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{api}(has_aux=True): the function must return a pair (out, aux)")
    return out


def _std_basis(leaves) -> list[np.ndarray]:
    """For leaves of total size n, one array per leaf of shape ``(n, *leaf.shape)``: together,
    the rows of the n x n identity."""
    avals = [core.get_aval(x) for x in leaves]
    n = sum(a.size for a in avals)
    out, start = [], 0
    for a in avals:
        block = np.zeros((n, a.size), a.dtype)
        block[np.arange(start, start + a.size), np.arange(a.size)] = 1
        out.append(block.reshape((n,) + a.shape))
        start += a.size
    return out


def _jac_tree(out_tree, in_tree, blocks):
    """The Jacobian as a tree product: ``out_tree`` of ``in_tree`` of arrays."""
    rows = [tree_util.tree_unflatten(in_tree, row) for row in blocks]
    return tree_util.tree_unflatten(out_tree, rows)


def jacfwd(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False):
    """The Jacobian of ``fun`` by forward mode: ``vmap`` of the JVP over the input basis.

    Args:
      fun: a function of arrays (pytrees allowed).
      argnums: which positional argument(s) to differentiate (int or tuple).
      has_aux: whether ``fun`` returns ``(out, aux)``; then ``(jacobian, aux)`` is returned.
      holomorphic: ``fun`` is holomorphic in complex inputs with complex outputs; the
        Jacobian is then complex (``df/dz``). Without it complex inputs raise a TypeError.

    Returns:
      A function returning the Jacobian: for each output leaf of shape ``o`` and input leaf of
      shape ``i``, an array of shape ``o + i``, arranged as the output tree of input trees.

    Cheaper than ``jacrev`` when there are fewer inputs than outputs.

    Example:
        >>> fg.jacfwd(lambda x: fnp.sin(x))(fnp.zeros(2))
        Array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    @functools.wraps(fun)
    @source_info.api_boundary
    def jacfun(*args, **kwargs):
        from funcgrad.transforms.vmap import vmap
        idx, partial_fun = _select_args("jacfwd", fun, argnums, args, kwargs,
                                        holomorphic=holomorphic, real_only=True)
        dyn = tuple(args[i] for i in idx)
        dyn_leaves, dyn_tree = tree_util.tree_flatten(dyn)
        out_store = []

        def push(*t_leaves):
            tangents = tree_util.tree_unflatten(dyn_tree, t_leaves)

            def main(*xs):
                out, aux = _split_aux("jacfwd", partial_fun(*xs), has_aux)
                return out, aux
            (out, aux), (t_out, _) = _jvp(main, dyn, tangents,
                                          f"jacfwd({source_info.fun_name(fun)})")
            out_store.append(tree_util.tree_structure(out))
            return t_out, aux
        basis = _std_basis(dyn_leaves)
        t_out, aux = vmap(push, in_axes=0, out_axes=(-1, None))(*basis)
        out_leaves, out_tree = tree_util.tree_flatten(t_out)
        if holomorphic:
            for o in out_leaves:
                _check_output_dtype("jacfwd", core.get_aval(o), holomorphic)
        in_tree = dyn_tree if not isinstance(argnums, int) else \
            tree_util.tree_structure(args[idx[0]])
        blocks = []
        for o in out_leaves:
            oshape = o.shape[:-1]
            row, start = [], 0
            for x in dyn_leaves:
                xa = core.get_aval(x)
                piece = o[..., start:start + xa.size]
                row.append(piece.reshape(oshape + xa.shape))
                start += xa.size
            blocks.append(row)
        jac = _jac_tree(out_tree, in_tree, blocks)
        return (jac, aux) if has_aux else jac

    return jacfun


def jacrev(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False):
    """The Jacobian of ``fun`` by reverse mode: ``vmap`` of the VJP over the output basis.

    Same arguments and result layout as ``jacfwd``; cheaper when there are fewer outputs
    than inputs. Complex outputs need ``holomorphic=True``; complex inputs of real outputs
    give JAX's convention (see ``grad``).

    Example:
        >>> fg.jacrev(lambda x: x ** 2)(fnp.array([1.0, 2.0]))
        Array([[2., 0.],
               [0., 4.]], dtype=float32)
    """
    @functools.wraps(fun)
    @source_info.api_boundary
    def jacfun(*args, **kwargs):
        from funcgrad.transforms.vmap import vmap
        idx, partial_fun = _select_args("jacrev", fun, argnums, args, kwargs,
                                        holomorphic=holomorphic)
        dyn = tuple(args[i] for i in idx)
        out, f_vjp, *aux = _vjp(partial_fun, dyn, has_aux,
                                f"jacrev({source_info.fun_name(fun)})")
        out_leaves, out_tree = tree_util.tree_flatten(out)
        for o in out_leaves:
            if core.get_aval(o).dtype.kind not in "fc":
                raise TypeError(errors.message(
                    "jacrev", f"jacrev requires floating-point outputs, got "
                    f"{core.get_aval(o).str_short()}.", "use jacfwd, or convert the output.",
                    TypeError))
            _check_output_dtype("jacrev", core.get_aval(o), holomorphic)

        def pull(*ct_leaves):
            return f_vjp(tree_util.tree_unflatten(out_tree, ct_leaves))
        cts = vmap(pull)(*_std_basis(out_leaves))
        if isinstance(argnums, int):
            cts = cts[0]
        ct_leaves, in_tree = tree_util.tree_flatten(cts)
        blocks, start = [], 0
        for o in out_leaves:
            oa = core.get_aval(o)
            blocks.append([c[start:start + oa.size].reshape(oa.shape + c.shape[1:])
                           for c in ct_leaves])
            start += oa.size
        jac = _jac_tree(out_tree, in_tree, blocks)
        return (jac, aux[0]) if has_aux else jac

    return jacfun


def hessian(fun: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False):
    """The Hessian of scalar-valued ``fun``: ``jacfwd(jacrev(fun))``.

    Example:
        >>> fg.hessian(lambda x: (x ** 3).sum())(fnp.array([1.0, 2.0]))
        Array([[ 6.,  0.],
               [ 0., 12.]], dtype=float32)
    """
    return jacfwd(jacrev(fun, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)
