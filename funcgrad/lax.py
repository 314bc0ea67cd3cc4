"""funcgrad.lax: explicit-shape wrappers of every primitive (no implicit broadcasting or
promotion), for code that wants exactly one equation per call."""
from funcgrad.primitives.control_flow import (  # noqa: F401
    cond,
    fori_loop,
    map,
    scan,
    switch,
    while_loop,
)
from funcgrad.primitives.convolution import *  # noqa: F401,F403
from funcgrad.primitives.elementwise import *  # noqa: F401,F403
from funcgrad.primitives.fft import *  # noqa: F401,F403
from funcgrad.primitives.indexing import *  # noqa: F401,F403
from funcgrad.primitives.linalg import *  # noqa: F401,F403
from funcgrad.primitives.reductions import *  # noqa: F401,F403
from funcgrad.primitives.sorting import *  # noqa: F401,F403
from funcgrad.primitives.special import *  # noqa: F401,F403
from funcgrad.primitives.structural import *  # noqa: F401,F403
from funcgrad.primitives.windowed import *  # noqa: F401,F403
