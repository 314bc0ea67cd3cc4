"""One module per workload; each defines ``TITLE``, ``ENTRIES`` (entry name -> function of a Bench)
and optionally ``orchestrate`` (parent-side process plan) and ``annotate`` (derived columns)."""

NAMES = ("mlp_step", "fused_elementwise", "dispatch", "per_example_grads", "compile_time",
         "convnet_step")
