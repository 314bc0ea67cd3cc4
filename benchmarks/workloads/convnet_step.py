"""convnet_step: a small convolutional network's training step (placeholder).

It waits for convolution primitives in ``funcgrad.nn``; until then the workload records one
skipped row and starts no process.
"""
from __future__ import annotations

import sys

TITLE = "small convnet training step (placeholder)"
REASON = "needs funcgrad.nn (conv primitives)"


def orchestrate(runner):
    print(f"  skipped convnet_step: {REASON}", file=sys.stderr)
    runner.children.append({"workload": "convnet_step", "system": "funcgrad", "entry": "-",
                            "rows": [{"workload": "convnet_step", "case": "train step",
                                      "system": "funcgrad", "variant": "-", "status": "skipped",
                                      "note": REASON}]})


ENTRIES = {}
