"""funcgrad.numpy.fft: discrete Fourier transforms (being written)."""
__all__: list[str] = []
