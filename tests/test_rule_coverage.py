"""Every primitive has a rule in every transformation table it needs.

* jvp and vmap: every primitive (a handful of documented exemptions below).
* transpose: every primitive that is linear in some operand, i.e. that can appear applied to
  tangents in a linearized program. The list is explicit, and a second check derives it: for
  each primitive, a rule registered with ``transpose.deflinear``/``jvp.deflinear`` implies a
  transpose entry.
"""
from __future__ import annotations

import pytest

import funcgrad  # noqa: F401 - registers every primitive
from funcgrad import core
from funcgrad.transforms import jvp, transpose, vmap

# Primitives that legitimately lack a rule, with the reason.
EXEMPT = {
    "jvp": {
        # Appears only inside linearized programs, which are transposed, never re-linearized
        # by forward mode; a jvp of it would be a jvp of the user's bwd, which has no meaning.
        "custom_lin": "linear stand-in for a custom_vjp's bwd; only transposed",
    },
    "vmap": {
        "custom_lin": "transposition calls bwd on batched values directly",
        "iota": "has no operands, so it is never batched",
    },
}

# Primitives linear in at least one operand: the ones reverse mode must transpose.
LINEAR = [
    "add", "sub", "neg", "mul", "div", "add_any", "convert_element_type", "select_n", "copy",
    "reduce_sum", "cumsum", "broadcast_in_dim", "reshape", "transpose", "squeeze", "rev",
    "slice", "dynamic_slice", "dynamic_update_slice", "concatenate", "pad", "gather",
    "scatter_add", "scatter", "scatter_mul", "dot_general", "triangular_solve", "custom_lin",
    "remat", "jit", "cond", "scan", "reduce_window_sum", "select_and_gather_add",
    "select_and_scatter_add", "conv_general_dilated", "fft", "real", "imag", "conj", "complex",
]

REQUIRED_TABLES = {"jvp": jvp.rules, "vmap": vmap.rules}


@pytest.mark.parametrize("table", sorted(REQUIRED_TABLES))
def test_every_primitive_has_a_rule(table):
    rules = REQUIRED_TABLES[table]
    missing = sorted(name for name, p in core.PRIMITIVES.items()
                     if p not in rules and name not in EXEMPT.get(table, {}))
    assert not missing, f"primitives without a {table} rule: {missing}"


def test_linear_primitives_have_transpose_rules():
    missing = [n for n in LINEAR if core.PRIMITIVES[n] not in transpose.rules]
    assert not missing, f"linear primitives without a transpose rule: {missing}"


def test_exemptions_are_still_needed():
    for table, names in EXEMPT.items():
        for name in names:
            assert core.PRIMITIVES[name] not in REQUIRED_TABLES[table], (
                f"{name} now has a {table} rule: remove its exemption")


def test_transpose_rules_only_for_known_linear_primitives():
    # A transpose rule on a primitive missing from LINEAR means the list is out of date.
    extra = sorted(p.name for p in transpose.rules if p.name not in LINEAR)
    assert not extra, f"add these to LINEAR (they have transpose rules): {extra}"
