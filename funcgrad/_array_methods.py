"""The array surface shared by ``funcgrad.Array`` and every ``Tracer``: operators and methods,
all routed to ``funcgrad.numpy`` so that concrete and traced values behave identically.

``fnp`` is filled in when ``funcgrad.numpy`` is imported (it imports this module's users, so a
top-level import here would cycle).
"""
from __future__ import annotations

fnp = None  # set by funcgrad.numpy


def _binop(name: str, reflected: bool = False):
    if reflected:
        def op(self, other):
            return getattr(fnp, name)(other, self)
    else:
        def op(self, other):
            return getattr(fnp, name)(self, other)
    op.__name__ = f"__{'r' if reflected else ''}{name}__"
    return op


class ArrayMethods:
    __slots__ = ()
    __hash__ = None  # arrays are mutable-looking values: unhashable, as NumPy and JAX arrays

    __add__, __radd__ = _binop("add"), _binop("add", True)
    __sub__, __rsub__ = _binop("subtract"), _binop("subtract", True)
    __mul__, __rmul__ = _binop("multiply"), _binop("multiply", True)
    __truediv__, __rtruediv__ = _binop("true_divide"), _binop("true_divide", True)
    __floordiv__, __rfloordiv__ = _binop("floor_divide"), _binop("floor_divide", True)
    __mod__, __rmod__ = _binop("remainder"), _binop("remainder", True)
    __pow__, __rpow__ = _binop("power"), _binop("power", True)
    __matmul__, __rmatmul__ = _binop("matmul"), _binop("matmul", True)
    __and__, __rand__ = _binop("bitwise_and"), _binop("bitwise_and", True)
    __or__, __ror__ = _binop("bitwise_or"), _binop("bitwise_or", True)
    __xor__, __rxor__ = _binop("bitwise_xor"), _binop("bitwise_xor", True)
    __lshift__, __rlshift__ = _binop("left_shift"), _binop("left_shift", True)
    __rshift__, __rrshift__ = _binop("right_shift"), _binop("right_shift", True)
    __eq__, __ne__ = _binop("equal"), _binop("not_equal")
    __lt__, __le__ = _binop("less"), _binop("less_equal")
    __gt__, __ge__ = _binop("greater"), _binop("greater_equal")

    def __divmod__(self, other):
        return fnp.divmod(self, other)

    def __rdivmod__(self, other):
        return fnp.divmod(other, self)

    def __neg__(self):
        return fnp.negative(self)

    def __pos__(self):
        return fnp.positive(self)

    def __abs__(self):
        return fnp.abs(self)

    def __invert__(self):
        return fnp.invert(self)

    def __getitem__(self, idx):
        return fnp._indexing.getitem(self, idx)

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of unsized object (a 0-d array)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    @property
    def at(self):
        """Functional index updates: ``x.at[idx].set(v)``, ``.add``, ``.mul``, ``.min``,
        ``.max``, ``.divide``, ``.power``, ``.get``. ``x`` itself never changes."""
        return fnp._indexing.IndexUpdateHelper(self)

    T = property(lambda self: fnp.transpose(self))
    mT = property(lambda self: fnp.swapaxes(self, -1, -2))
    real = property(lambda self: fnp.real(self))
    imag = property(lambda self: fnp.imag(self))

    def astype(self, dtype):
        return fnp.astype(self, dtype)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = shape[0]
        return fnp.reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], int)):
            axes = axes[0]
        return fnp.transpose(self, axes or None)

    def sum(self, axis=None, dtype=None, keepdims=False, **kw):
        return fnp.sum(self, axis=axis, dtype=dtype, keepdims=keepdims, **kw)

    def mean(self, axis=None, dtype=None, keepdims=False, **kw):
        return fnp.mean(self, axis=axis, dtype=dtype, keepdims=keepdims, **kw)

    def var(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return fnp.var(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return fnp.std(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return fnp.prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False, **kw):
        return fnp.max(self, axis=axis, keepdims=keepdims, **kw)

    def min(self, axis=None, keepdims=False, **kw):
        return fnp.min(self, axis=axis, keepdims=keepdims, **kw)

    def argmax(self, axis=None, keepdims=False):
        return fnp.argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return fnp.argmin(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return fnp.all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return fnp.any(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None, dtype=None):
        return fnp.cumsum(self, axis=axis, dtype=dtype)

    def cumprod(self, axis=None, dtype=None):
        return fnp.cumprod(self, axis=axis, dtype=dtype)

    def ravel(self, order="C"):
        return fnp.ravel(self, order=order)

    def flatten(self):
        return fnp.ravel(self)

    def squeeze(self, axis=None):
        return fnp.squeeze(self, axis=axis)

    def swapaxes(self, a, b):
        return fnp.swapaxes(self, a, b)

    def clip(self, min=None, max=None):
        return fnp.clip(self, min, max)

    def round(self, decimals=0):
        return fnp.round(self, decimals)

    def dot(self, other):
        return fnp.dot(self, other)

    def conj(self):
        return fnp.conj(self)

    conjugate = conj

    def take(self, indices, axis=None):
        return fnp.take(self, indices, axis=axis)

    def repeat(self, repeats, axis=None):
        return fnp.repeat(self, repeats, axis=axis)

    def sort(self, axis=-1):
        return fnp.sort(self, axis=axis)

    def argsort(self, axis=-1):
        return fnp.argsort(self, axis=axis)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return fnp.diagonal(self, offset, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1):
        return fnp.trace(self, offset, axis1, axis2)

    def copy(self):
        return fnp.array(self, copy=True)

    def nonzero(self):
        return fnp.nonzero(self)

    def tolist(self):
        import numpy as np
        return np.asarray(self).tolist()
