"""Elementwise functions (NumPy's ufuncs): promotion and broadcasting, then one primitive."""
from __future__ import annotations

from funcgrad.primitives import elementwise as ew
from funcgrad.numpy._util import promote_args, promote_args_inexact


def add(x1, x2, /):
    """Adds arguments elementwise, with broadcasting and type promotion.

    Example:
        >>> fnp.add(fnp.ones(2), 1.0)
        Array([2., 2.], dtype=float32)
    """
    return ew.add_p.bind(*promote_args("add", x1, x2))


def subtract(x1, x2, /):
    """Subtracts arguments elementwise, with broadcasting and type promotion."""
    return ew.sub_p.bind(*promote_args("subtract", x1, x2))


def multiply(x1, x2, /):
    """Multiplies arguments elementwise, with broadcasting and type promotion."""
    return ew.mul_p.bind(*promote_args("multiply", x1, x2))


def sin(x, /):
    """Trigonometric sine, elementwise; integer inputs are promoted to the default float."""
    return ew.sin_p.bind(*promote_args_inexact("sin", x))


__all__ = ["add", "subtract", "multiply", "sin"]
