"""Every public exception of funcgrad, and the builder that gives their messages one shape:

    <op>: <what is wrong, with the offending values in short form such as f32[32,784]>
      at <user file>:<line> in <function>:    <source text>
      while tracing: <transform name stack>
    Fix: <one concrete fix>
    See docs/errors.md#<ClassName>

Each class docstring holds a wrong-code / right-code example; docs/errors.md is generated
from them (``python -m funcgrad.docs_errors > docs/errors.md``).
"""
from __future__ import annotations

from funcgrad import source_info


class FuncgradError(Exception):
    """Base mixin of funcgrad's exceptions; every subclass also derives from a built-in type."""


class ShapeError(FuncgradError, ValueError, TypeError):
    """Operand shapes do not fit the operation.

    Wrong::

        fnp.ones(3) + fnp.ones(4)

    Right::

        fnp.ones(3) + fnp.ones(4)[:3]      # or reshape/broadcast explicitly
    """


class DTypeError(FuncgradError, TypeError):
    """An operand has a dtype the operation does not accept.

    Wrong::

        fnp.sin(fnp.arange(3))             # lax-level sin of an integer array

    Right::

        fnp.sin(fnp.arange(3).astype("float32"))
    """


class InvalidArgumentError(FuncgradError, TypeError):
    """A value that is not an array (a string, an arbitrary object) was passed as an array.

    Wrong::

        fnp.sin("1.0")

    Right::

        fnp.sin(1.0)
    """


class ConcretizationError(FuncgradError, TypeError):
    """A traced value was used where Python needs a concrete one (``if``, ``bool()``, ``int()``).

    Wrong::

        @fg.jit
        def f(x):
            if x > 0:              # x is abstract while tracing
                return x
            return -x

    Right::

        @fg.jit
        def f(x):
            return fnp.where(x > 0, x, -x)     # or fg.lax.cond, or static_argnums
    """


class TracerArrayConversionError(FuncgradError, TypeError):
    """A traced value was passed to NumPy, which needs a concrete buffer.

    Wrong::

        fg.make_jaxpr(lambda x: np.sin(x))(1.0)

    Right::

        fg.make_jaxpr(lambda x: fnp.sin(x))(1.0)
    """


class TracerLeakError(FuncgradError, RuntimeError):
    """A tracer escaped the transformation that created it (stored in a global or a list).

    Wrong::

        saved = []
        fg.make_jaxpr(lambda x: saved.append(x * 2) or x)(1.0)
        saved[0] + 1

    Right::

        Return the value from the transformed function instead of storing it.
    """


class MissingRuleError(FuncgradError, NotImplementedError):
    """A transformation has no rule for a primitive.

    Wrong::

        fg.vmap(f_using_an_op_without_a_batching_rule)(xs)

    Right::

        Move the transformation outside the call, or add the rule next to the primitive's
        definition in funcgrad/primitives/.
    """


class CheckpointMismatchError(FuncgradError, ValueError):
    """A checkpoint does not match the ``like`` tree given to ``restore``.

    Wrong::

        checkpoints.restore(path, like={"w": fnp.zeros((4, 4))})   # saved w is f32[3,4]

    Right::

        checkpoints.restore(path, like={"w": fnp.zeros((3, 4))})   # or build the model the
                                                                   # checkpoint was saved from
    """


class CheckpointFormatError(FuncgradError, ValueError):
    """A file is not a funcgrad checkpoint, is damaged, or names classes that cannot be imported.

    Wrong::

        checkpoints.restore("weights.npy")

    Right::

        checkpoints.restore("weights.ckpt")   # a file written by checkpoints.save
    """


class DataError(FuncgradError, ValueError):
    """A ``funcgrad.data`` pipeline was built or restored with invalid arguments.

    Wrong::

        ds = Dataset.from_arrays({"image": x, "label": y}).shuffle()     # no seed

    Right::

        ds = Dataset.from_arrays({"image": x, "label": y}).shuffle(seed=0)
    """


class UnknownLengthError(FuncgradError, TypeError):
    """``len()`` of a data set whose length is unknown (after ``filter``) or infinite
    (after ``repeat()``).

    Wrong::

        len(ds.filter(lambda ex: ex["label"] < 5))

    Right::

        sum(1 for _ in ds.filter(lambda ex: ex["label"] < 5))   # count by iterating
    """


class DistributedError(FuncgradError, RuntimeError):
    """A collective could not complete: another process failed, or the wait ran past the
    timeout, or MPI is needed but not available.

    Wrong::

        # under mpirun -n 2, process 1 raises before the collective; process 0 would wait
        grads = dist.pmean(grads)          # forever, were there no timeout

    Right::

        Read the failed process's own error (printed above this one) and fix it there; for
        steps that are legitimately slow, raise the timeout: dist.initialize(timeout=1800).
    """


class FuncgradWarning(UserWarning):
    """Base class of funcgrad's warnings (retraces, cache refusals, backend fallbacks)."""


def message(op: str, what: str, fix: str | None, cls: type, source=None) -> str:
    """Builds a message in the common format; ``source`` defaults to the current user frame."""
    src = source if source is not None else source_info.user_frame()
    lines = [f"{op}: {what}"]
    if src is not None:
        lines.append(src.describe())
    if fix:
        lines.append(f"Fix: {fix}")
    lines.append(f"See docs/errors.md#{cls.__name__}")
    return "\n".join(lines)


def shape_error(op: str, what: str, fix: str | None = None, source=None) -> ShapeError:
    return ShapeError(message(op, what, fix, ShapeError, source))


def dtype_error(op: str, what: str, fix: str | None = None, source=None) -> DTypeError:
    return DTypeError(message(op, what, fix, DTypeError, source))


def _all_classes():
    return [c for c in globals().values()
            if isinstance(c, type) and issubclass(c, FuncgradError) and c is not FuncgradError]


def render_docs() -> str:
    """The text of docs/errors.md, built from the class docstrings."""
    import inspect
    parts = ["# funcgrad errors\n", "Every error message ends with a link to its section here.\n"]
    for cls in _all_classes():
        parts.append(f'<a id="{cls.__name__}"></a>\n## {cls.__name__}\n')
        parts.append(inspect.cleandoc(cls.__doc__) + "\n")
    return "\n".join(parts)
