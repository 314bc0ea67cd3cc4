"""Run under mpirun -n 2: process 1 fails (raises, or hangs) while process 0 is in a
collective; process 0 must stop with a clear error instead of waiting forever."""
import sys
import time

import numpy as np

from funcgrad import distributed as dist

mode, timeout = sys.argv[1], float(sys.argv[2])
dist.initialize(timeout=timeout)
r = dist.process_index()
dist.psum({"a": np.ones(3, np.float32)})
if r == 1:
    if mode == "raise":
        raise ZeroDivisionError("simulated failure on process 1")
    time.sleep(120)  # "hang": never reaches the next collective
dist.pmean({"a": np.ones(3, np.float32)})
print("unreachable: process 0 finished the collective without process 1", flush=True)
