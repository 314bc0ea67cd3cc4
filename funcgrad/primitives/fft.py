"""Fourier transforms: the ``fft`` primitive (being written)."""
__all__: list[str] = []
