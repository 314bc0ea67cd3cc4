"""``funcgrad.Array``: the concrete array type, an immutable wrapper over a NumPy buffer."""
from __future__ import annotations

import numpy as np

from funcgrad import core, dtypes
from funcgrad._array_methods import ArrayMethods
from funcgrad.core import ShapedArray


class Array(ArrayMethods):
    """An immutable n-dimensional array.

    Operations return new arrays; update elements functionally with ``x.at[idx].set(v)``.
    ``np.asarray(x)`` gives a read-only view of the buffer, without copying.

    Example:
        >>> import funcgrad.numpy as fnp
        >>> x = fnp.arange(3.0)
        >>> y = x.at[0].set(10.0)
        >>> x, y
        (Array([0., 1., 2.], dtype=float32), Array([10.,  1.,  2.], dtype=float32))
    """

    __slots__ = ("_value", "_weak_type", "_aval")
    __array_priority__ = 100

    def __init__(self, value: np.ndarray, weak_type: bool = False):
        # `value` is owned by the Array from here on: freeze it so nobody mutates it.
        if type(value) is not np.ndarray:
            value = np.asarray(value)  # NumPy scalars (e.g. from reductions) and subclasses
        if value.flags.writeable:
            value.flags.writeable = False
        self._value = value
        self._weak_type = weak_type
        self._aval = None

    @property
    def aval(self) -> ShapedArray:
        a = self._aval
        if a is None:
            v = self._value
            a = self._aval = ShapedArray._trusted(v.shape, v.dtype, bool(self._weak_type))
        return a

    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)
    weak_type = property(lambda self: self._weak_type)
    nbytes = property(lambda self: self._value.nbytes)
    itemsize = property(lambda self: self._value.itemsize)

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._value, dtype=dtype)
        return self._value if dtype is None else self._value.astype(dtype, copy=False)

    def block_until_ready(self) -> Array:
        """Waits for the value to be computed (CPU arrays are always ready); returns self."""
        return self

    def _scalar(self, what: str):
        if self._value.size != 1:
            raise TypeError(f"{what} of an array with {self._value.size} elements "
                            f"({self.aval.str_short()}) is ambiguous; reduce it first "
                            "(e.g. x.any() or x.all()).")
        return self._value.reshape(()).item()

    def __bool__(self):
        return bool(self._scalar("bool()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __float__(self):
        return float(self._scalar("float()"))

    def __complex__(self):
        return complex(self._scalar("complex()"))

    def __index__(self):
        if not dtypes.is_integer(self.dtype) and self.dtype != dtypes.bool_:
            raise TypeError(f"only integer arrays can be used as an index, got "
                            f"{self.aval.str_short()}")
        return int(self._scalar("__index__"))

    def item(self, *args):
        return self._value.item(*args)

    def __format__(self, spec):
        if self._value.ndim == 0:
            return format(self._value.item(), spec)
        return format(str(self), spec)

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", prefix="Array(")
        if self._value.size == 0:
            body = f"[], shape={self._value.shape}"
        extra = ", weak_type=True" if self._weak_type else ""
        return f"Array({body}, dtype={self.dtype.name}{extra})"

    def __str__(self):
        return str(self._value)

    def __reduce__(self):
        return (_rebuild, (np.array(self._value), self._weak_type))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


def _rebuild(value, weak_type):
    return Array(value, weak_type)


def to_array(x) -> Array:
    """Wraps a NumPy array (copying it, since funcgrad Arrays are immutable and the caller may
    keep mutating its own buffer)."""
    return x if isinstance(x, Array) else Array(np.array(x, copy=True))


core._Array = Array  # the eval trace recognises Arrays by exact type on its hot path
