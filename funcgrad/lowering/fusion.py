"""Backend-agnostic fusion: a simplified jaxpr becomes a ``Plan`` of kernel and library steps.

Equations are classified (ELEMENTWISE, BROADCAST, REDUCE, CONTRACT, LAYOUT, LIBRARY). A greedy
pass in program order groups elementwise equations by iteration space (their output shape) into
clusters. Broadcasts (``broadcast_in_dim``, reshapes that only add or drop size-1 axes,
``squeeze``) and transposes are never materialised when a kernel consumes them: they become an
*access map* on the kernel's input. Reductions whose operand lies in a cluster become that
cluster's accumulator epilogue (several, when their axes agree). A cluster value used outside its
cluster (by another cluster, a library step or as an output) is materialised; nothing is
recomputed.

A cluster may take an equation only if the equation does not depend on the cluster through a
step outside it (which would make a cycle): values record the clusters they depend on, clusters
the clusters they read, and the check follows those links transitively at the time of the join
(clusters grow). Steps are finally ordered topologically.
"""
from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable

import numpy as np

from funcgrad import core, pretty
from funcgrad.primitives import elementwise as _ew


class Kind(enum.Enum):
    ELEMENTWISE = "elementwise"
    BROADCAST = "broadcast"
    REDUCE = "reduce"
    CONTRACT = "contract"
    LAYOUT = "layout"
    LIBRARY = "library"


ELEMENTWISE_NAMES = frozenset(
    [p.name for p in _ew.UNARY + _ew.BINARY]
    + ["select_n", "clamp", "convert_element_type", "integer_pow", "round", "copy",
       "stop_gradient", "add_any"])
REDUCE_NAMES = frozenset({"reduce_sum", "reduce_max", "reduce_min", "reduce_prod",
                          "reduce_and", "reduce_or"})
LAYOUT_NAMES = frozenset({"transpose", "slice", "rev", "pad", "concatenate", "reshape",
                          "squeeze", "dynamic_slice", "dynamic_update_slice", "iota"})
# Dtypes a generated kernel may read or write (no float16 arithmetic in kernels). Complex
# values fuse where the scalar templates handle them (arithmetic, comparisons, parts, sqrt;
# scalar.supports says which), and their sums and products reduce in kernels; the rest run as
# library steps.
KERNEL_DTYPES = frozenset(np.dtype(t) for t in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float32", "float64", "complex64", "complex128"))


def access_map(eqn) -> tuple | None:
    """For a broadcast-like equation ``y = op(x)``: per axis of ``x``, the axis of ``y`` it is
    read along, or None where ``x`` has size 1 and is read at 0. None if not broadcast-like."""
    name, x, y = eqn.prim.name, eqn.invars[0].aval, eqn.outvars[0].aval
    if name == "broadcast_in_dim":
        bd = eqn.params["broadcast_dimensions"]
        return tuple(b if x.shape[i] == y.shape[b] else None for i, b in enumerate(bd))
    if name == "transpose":
        perm = eqn.params["permutation"]
        m = [None] * x.ndim
        for i, p in enumerate(perm):
            m[p] = i
        return tuple(m)
    if name == "squeeze":
        dims, m, j = eqn.params["dimensions"], [], 0
        for i in range(x.ndim):
            if i in dims:
                m.append(None)
            else:
                m.append(j)
                j += 1
        return tuple(m)
    if name == "reshape":
        xs = [d for d in x.shape if d != 1]
        if xs != [d for d in y.shape if d != 1]:
            return None
        ys = iter(i for i, d in enumerate(y.shape) if d != 1)
        return tuple(None if d == 1 else next(ys) for d in x.shape)
    return None


def classify(eqn, can_fuse: Callable) -> Kind:
    name = eqn.prim.name
    dts = {a.aval.dtype for a in eqn.invars} | {v.aval.dtype for v in eqn.outvars}
    in_kernel = dts <= KERNEL_DTYPES
    if name in ELEMENTWISE_NAMES and in_kernel and can_fuse(eqn):
        return Kind.ELEMENTWISE
    if name in ("broadcast_in_dim", "transpose", "squeeze", "reshape") and \
            access_map(eqn) is not None:
        return Kind.BROADCAST
    if name in REDUCE_NAMES and in_kernel and not (
            name in ("reduce_max", "reduce_min") and any(d.kind == "c" for d in dts)):
        return Kind.REDUCE
    if name == "dot_general":
        return Kind.CONTRACT
    if name in LAYOUT_NAMES:
        return Kind.LAYOUT
    return Kind.LIBRARY


# ------------------------------------------------------------------------------------------
# The plan


@dataclasses.dataclass
class KernelInput:
    var: core.Var            # a materialised value (jaxpr input or an earlier step's result)
    axes: tuple              # per axis of var: the loop axis it is read along, or None (index 0)


@dataclasses.dataclass
class Reduction:
    eqn: core.Eqn            # the reduce equation; its operand is a cluster value
    out: core.Var


@dataclasses.dataclass
class KernelStep:
    space: tuple[int, ...]                          # the iteration space (static shape)
    inputs: list[KernelInput]
    eqns: list[core.Eqn]                            # elementwise equations, in order
    reads: dict                                     # atom -> KernelInput index, or Literal
    outputs: list[core.Var]                         # materialised full-space values
    reductions: list[Reduction]
    axes: tuple[int, ...] = ()                      # reduced axes (shared by the reductions)
    first: int = 0                                  # program position, for a stable order

    @property
    def produces(self) -> list[core.Var]:
        return self.outputs + [r.out for r in self.reductions]

    @property
    def consumes(self) -> list[core.Var]:
        return [i.var for i in self.inputs]


@dataclasses.dataclass
class LibraryStep:
    eqn: core.Eqn
    kind: Kind
    first: int = 0

    @property
    def produces(self) -> list[core.Var]:
        return list(self.eqn.outvars)

    @property
    def consumes(self) -> list[core.Var]:
        return [a for a in self.eqn.invars if type(a) is core.Var]


@dataclasses.dataclass
class Plan:
    invars: list[core.Var]
    outvars: list                                   # atoms
    steps: list
    last_use: dict                                  # var -> index of the last step reading it

    def summary(self) -> str:
        k = sum(type(s) is KernelStep for s in self.steps)
        lib = [s.eqn.prim.name for s in self.steps if type(s) is LibraryStep]
        libs = f" ({', '.join(sorted(set(lib)))})" if lib else ""
        return f"{k} kernel(s), {len(lib)} library step(s){libs}"


class _Cluster:
    def __init__(self, cid, space, first):
        self.id = cid
        self.space = space
        self.first = first
        self.eqns: list = []
        self.members: set = set()      # in-space values computed in the kernel
        self.reductions: list = []
        self.axes = None
        self.closed = False


def plan(jaxpr: core.Jaxpr, can_fuse: Callable = lambda eqn: True) -> Plan:
    """Groups the equations of a simplified, first-order ``jaxpr`` into a ``Plan``."""
    views: dict = {}          # var -> (source atom, axes) for absorbed broadcasts
    deps: dict = {}           # non-member var -> cluster ids it directly depends on
    cluster_deps: list = []   # cluster id -> ids of clusters its members read (outside paths)
    owner: dict = {}          # member var -> cluster
    clusters: list[_Cluster] = []
    libs: list[LibraryStep] = []
    open_by_space: dict = {}
    view_eqn: dict = {}       # view var -> its broadcast-like equation

    def deps_of(a):
        if type(a) is not core.Var:
            return frozenset()
        if a in views:
            return deps_of(views[a][0])
        c = owner.get(a)
        return frozenset({c.id}) if c is not None else deps.get(a, frozenset())

    def source(a):
        """The atom a kernel reads for ``a`` and its access map (None: read as is)."""
        if type(a) is core.Var and a in views:
            return views[a]
        return a, None

    def reaches(ids, target) -> bool:
        # Clusters grow after a value's deps were recorded, so follow the clusters' current
        # dependencies transitively.
        seen, todo = set(), list(ids)
        while todo:
            c = todo.pop()
            if c == target:
                return True
            if c not in seen:
                seen.add(c)
                todo.extend(cluster_deps[c])
        return False

    def can_join(c, eqn):
        if c.closed or c.space != _space(eqn):
            return False
        ids = set()
        for a in eqn.invars:
            if type(a) is core.Var and a in c.members:
                continue
            ids |= deps_of(source(a)[0])
        return not reaches(ids, c.id)

    for pos, eqn in enumerate(jaxpr.eqns):
        kind = classify(eqn, can_fuse)
        if kind is Kind.BROADCAST:
            src, axes = source(eqn.invars[0])
            m = access_map(eqn)
            axes = m if axes is None else tuple(None if t is None else m[t] for t in axes)
            views[eqn.outvars[0]] = (src, axes)
            view_eqn[eqn.outvars[0]] = eqn
            continue
        if kind is Kind.ELEMENTWISE or (kind is Kind.REDUCE and _reducible(eqn, owner)):
            target = None
            x = eqn.invars[0] if kind is Kind.REDUCE else None
            cands = [owner[a] for a in eqn.invars if type(a) is core.Var and a in owner]
            if kind is Kind.REDUCE:
                cands = [owner[x]] if x in owner else []
            elif _space(eqn) in open_by_space:
                # Horizontal fusion (siblings reading the same inputs, e.g. optimizer updates),
                # but never into a cluster with reductions: a later reduction over other axes
                # could then no longer take this value as its prologue.
                sib = open_by_space[_space(eqn)]
                if not sib.reductions:
                    cands.append(sib)
            for c in cands:
                if can_join(c, eqn) and (kind is Kind.ELEMENTWISE or
                                         c.axes in (None, eqn.params["axes"])):
                    target = c
                    break
            if target is None:
                target = _Cluster(len(clusters), _space(eqn), pos)
                clusters.append(target)
                cluster_deps.append(set())
                open_by_space[target.space] = target
            d = frozenset().union(*[deps_of(source(a)[0]) for a in eqn.invars
                                    if not (type(a) is core.Var and a in target.members)])
            target.eqns.append(eqn)
            cluster_deps[target.id] |= d
            if kind is Kind.REDUCE:
                target.axes = eqn.params["axes"]
                target.reductions.append(Reduction(eqn, eqn.outvars[0]))
                deps[eqn.outvars[0]] = frozenset({target.id})
            else:
                for v in eqn.outvars:
                    target.members.add(v)
                    owner[v] = target
            continue
        libs.append(LibraryStep(eqn, kind, pos))
        d = frozenset().union(*[deps_of(a) for a in eqn.invars])
        for v in eqn.outvars:
            deps[v] = d

    return _finish(jaxpr, clusters, libs, views, view_eqn, owner)


def _space(eqn):
    return eqn.invars[0].aval.shape if eqn.prim.name in REDUCE_NAMES else eqn.outvars[0].aval.shape


def _reducible(eqn, owner) -> bool:
    return len(eqn.params["axes"]) > 0 and eqn.outvars[0].aval.dtype == eqn.invars[0].aval.dtype


def _finish(jaxpr, clusters, libs, views, view_eqn, owner) -> Plan:
    # Which values must be materialised: used by a library step, by another cluster, or output.
    needed: set = set()
    lib_needs_view: dict = {}

    def need(a, by_cluster=None):
        if type(a) is not core.Var:
            return
        if a in views:
            if by_cluster is None:  # a library step or an output reads the broadcast: build it
                if a not in lib_needs_view:
                    lib_needs_view[a] = True
                    need(view_eqn[a].invars[0])
            else:
                need(views[a][0], by_cluster)
            return
        c = owner.get(a)
        if c is not None and c is not by_cluster:
            needed.add(a)

    for s in libs:
        for a in s.eqn.invars:
            need(a)
    for a in jaxpr.outvars:
        need(a)
    for c in clusters:
        for eqn in c.eqns:
            for a in eqn.invars:
                need(a, c)

    # Broadcast views read outside kernels are built in the driver by their own equation;
    # kernels keep reading them through their access maps.
    pos_of = {e: i for i, e in enumerate(jaxpr.eqns)}
    view_steps = [LibraryStep(view_eqn[v], Kind.BROADCAST, pos_of[view_eqn[v]])
                  for v in lib_needs_view]
    steps: list = list(libs) + view_steps
    for c in clusters:
        inputs: list[KernelInput] = []
        index: dict = {}
        reads: dict = {}
        for eqn in c.eqns:
            for a in eqn.invars:
                if type(a) is core.Var and a in c.members:
                    continue
                src, axes = (views[a] if type(a) is core.Var and a in views else (a, None))
                if type(src) is core.Literal:
                    if not _lift_literal(src):
                        reads[a] = src
                        continue
                    # A kernel argument, not a constant in its source: constants derived
                    # from shapes (1/batch in a mean's gradient) must not make a new kernel.
                    key = ("literal", pretty.pp_literal(src))
                    if key not in index:
                        index[key] = len(inputs)
                        inputs.append(KernelInput(src, ()))
                    reads[a] = index[key]
                    continue
                if axes is None:
                    axes = _identity_axes(src.aval, c.space)
                key = (src, axes)
                if key not in index:
                    index[key] = len(inputs)
                    inputs.append(KernelInput(src, axes))
                reads[a] = index[key]
        outs = [v for eqn in c.eqns if eqn.prim.name not in REDUCE_NAMES
                for v in eqn.outvars if v in needed]
        steps.append(KernelStep(c.space, inputs, c.eqns, reads, outs, c.reductions,
                                tuple(c.axes or ()), c.first))

    steps = _toposort(steps, jaxpr.invars)
    last_use: dict = {}
    for i, s in enumerate(steps):
        for v in s.consumes:
            last_use[v] = i
    for a in jaxpr.outvars:
        if type(a) is core.Var:
            last_use[a] = len(steps)
    return Plan(list(jaxpr.invars), list(jaxpr.outvars), steps, last_use)


def _lift_literal(lit: core.Literal) -> bool:
    """Whether a literal becomes a kernel argument: every number except 0 and 1, which stay in
    the source, where the compiler simplifies with them (a shape-derived 1, from a size-1 axis,
    then makes its own kernel, which is rare and cheap)."""
    if lit.aval.dtype.kind == "b":
        return False
    v = np.asarray(lit.val).item()
    return not (v == 0 or v == 1) or (isinstance(v, float) and np.isnan(v))


def _identity_axes(aval, space):
    if aval.shape == space:
        return tuple(range(len(space)))
    if aval.shape == ():
        return ()
    raise AssertionError(f"internal: kernel operand {aval.str_short()} in space {space}")


def _toposort(steps, invars):
    producer = {}
    for s in steps:
        for v in s.produces:
            producer[v] = s
    order, done, visiting = [], set(), set()

    def visit(s):
        if id(s) in done:
            return
        if id(s) in visiting:
            raise AssertionError("internal: fusion made a cycle")
        visiting.add(id(s))
        for v in sorted(s.consumes, key=lambda v: _first(producer.get(v))):
            p = producer.get(v)
            if p is not None:
                visit(p)
        visiting.discard(id(s))
        done.add(id(s))
        order.append(s)

    for s in sorted(steps, key=_first):
        visit(s)
    return order


def _first(step):
    return -1 if step is None else step.first
