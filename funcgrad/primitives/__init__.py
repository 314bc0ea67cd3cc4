"""The closed set of primitives, one module per family. Importing this package registers them."""
from funcgrad.primitives import elementwise, indexing, linalg, structural  # noqa: F401
from funcgrad.primitives import reductions, sorting  # noqa: F401
