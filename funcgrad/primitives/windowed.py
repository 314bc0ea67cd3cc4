"""Windowed reductions: the ``reduce_window`` primitives (being written)."""
__all__: list[str] = []
