"""The closed set of primitives, one module per family. Importing this package registers them."""
from funcgrad.primitives import (  # noqa: F401
    convolution,
    elementwise,
    fft,
    indexing,
    linalg,
    reductions,
    sorting,
    special,
    structural,
    windowed,
)
