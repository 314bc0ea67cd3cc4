"""Special functions (lgamma, digamma, ...) as elementwise primitives (being written)."""
__all__: list[str] = []
