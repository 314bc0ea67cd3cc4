"""Pytrees: nested containers whose leaves the transformations act on.

A pytree is a value built from *nodes* (containers that funcgrad knows how to take apart and
put back together) and *leaves* (everything else). Built-in nodes are ``tuple``, ``list``,
``dict`` (children in sorted key order, or insertion order when the keys cannot be sorted),
``collections.OrderedDict`` (insertion order), ``collections.defaultdict`` (sorted keys),
namedtuples (any ``tuple`` subclass with ``_fields``) and ``None`` (a node with no children,
so an empty subtree rather than a leaf). Other types become nodes through
``register_pytree_node`` and friends.

``tree_flatten`` splits a pytree into its list of leaves and a ``PyTreeDef`` that records the
structure; ``tree_unflatten`` goes back. Treedefs are immutable, hashable and comparable, so
the transformations use them as cache keys.

Example:
    >>> from funcgrad import tree_util as tu
    >>> leaves, treedef = tu.tree_flatten({'w': 1.0, 'b': [2.0, None]})
    >>> leaves
    [2.0, 1.0]
    >>> treedef
    PyTreeDef({'b': [*, None], 'w': *})
    >>> tu.tree_map(lambda x: x * 10, {'w': 1.0, 'b': [2.0, None]})
    {'b': [20.0, None], 'w': 10.0}
"""
from __future__ import annotations

import collections
import dataclasses
import functools
import threading
from collections.abc import Callable, Hashable, Iterable
from typing import Any

__all__ = [
    "PyTreeDef",
    "DictKey",
    "SequenceKey",
    "GetAttrKey",
    "FlattenedIndexKey",
    "Partial",
    "tree_flatten",
    "tree_unflatten",
    "tree_leaves",
    "tree_structure",
    "tree_map",
    "tree_reduce",
    "tree_all",
    "tree_flatten_with_path",
    "tree_leaves_with_path",
    "tree_map_with_path",
    "tree_transpose",
    "keystr",
    "treedef_is_leaf",
    "all_leaves",
    "register_pytree_node",
    "register_pytree_with_keys",
    "register_pytree_node_class",
    "register_pytree_with_keys_class",
    "register_dataclass",
    "register_static",
]


# --------------------------------------------------------------------------------------------
# Key path entries
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class DictKey:
    """Key path entry for a child of a mapping node, printed as ``['name']``.

    Example:
        >>> str(DictKey('w'))
        "['w']"
    """
    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """Key path entry for a child of a list or tuple node, printed as ``[0]``.

    Example:
        >>> str(SequenceKey(0))
        '[0]'
    """
    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """Key path entry for an attribute child (namedtuples, dataclasses), printed as ``.name``.

    Example:
        >>> str(GetAttrKey('weight'))
        '.weight'
    """
    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
    """Key path entry for the i-th child of a custom node registered without key names.

    Example:
        >>> str(FlattenedIndexKey(1))
        '[1]'
    """
    key: int

    def __str__(self) -> str:
        return f"[{self.key!r}]"


def _simple_key_str(k: Any) -> str:
    if isinstance(k, DictKey):
        return str(k.key)
    if isinstance(k, SequenceKey):
        return str(k.idx)
    if isinstance(k, GetAttrKey):
        return k.name
    if isinstance(k, FlattenedIndexKey):
        return str(k.key)
    return str(k)


def keystr(keys: Iterable[Any], *, simple: bool = False, separator: str = "") -> str:
    """Render a key path as a string.

    Args:
        keys: a key path, i.e. a sequence of key entries such as ``DictKey`` or
            ``SequenceKey`` (as produced by ``tree_flatten_with_path``).
        simple: if True, render each entry without brackets or dots (``params``, ``0``).
        separator: string placed between entries; useful together with ``simple=True``.

    Returns:
        The key path as a string, e.g. ``"['params']['dense_0'].w[0]"``.

    Example:
        >>> keystr((DictKey('params'), GetAttrKey('w'), SequenceKey(0)))
        "['params'].w[0]"
        >>> keystr((DictKey('params'), SequenceKey(0)), simple=True, separator='/')
        'params/0'
    """
    if simple:
        return separator.join(_simple_key_str(k) for k in keys)
    return separator.join(str(k) for k in keys)


# --------------------------------------------------------------------------------------------
# Node kinds and the registry
# --------------------------------------------------------------------------------------------

class _NodeKind:
    """How to take apart and rebuild one node type; one instance per registered type."""

    __slots__ = ("nodetype", "name", "flatten", "unflatten", "flatten_with_keys", "repr_fn",
                 "describe", "token")

    def __init__(self, nodetype, name, flatten, unflatten, flatten_with_keys, repr_fn,
                 describe, token):
        self.nodetype = nodetype
        self.name = name
        # flatten(x) -> (children iterable, aux); unflatten(aux, children list) -> x
        self.flatten = flatten
        self.unflatten = unflatten
        # flatten_with_keys(x) -> (iterable of (key, child), aux)
        self.flatten_with_keys = flatten_with_keys
        # repr_fn(aux, child reprs) -> str; describe(aux, n_children) -> phrase for errors
        self.repr_fn = repr_fn
        self.describe = describe
        # what a pickled treedef stores to find this kind again
        self.token = token

    def __repr__(self) -> str:
        return f"<pytree node kind {self.name}>"


# type -> _NodeKind. Read without the lock (dict reads are atomic); written under it.
_registry: dict[type, _NodeKind] = {}
_registry_lock = threading.Lock()


def _type_name(t: type) -> str:
    return getattr(t, "__name__", None) or repr(t)


def _join(parts: list[str]) -> str:
    return ", ".join(parts)


def _keys_list(keys) -> str:
    return "[" + ", ".join(repr(k) for k in keys) + "]"


def _plural(n: int) -> str:
    return f"{n} child" if n == 1 else f"{n} children"


# ---- tuple / list --------------------------------------------------------------------------

def _seq_flatten(x):
    return x, None


def _seq_flatten_with_keys(x):
    return [(SequenceKey(i), c) for i, c in enumerate(x)], None


def _tuple_repr(aux, cs):
    return "(" + cs[0] + ",)" if len(cs) == 1 else "(" + _join(cs) + ")"


_TUPLE = _NodeKind(
    tuple, "tuple", _seq_flatten, lambda aux, cs: tuple(cs), _seq_flatten_with_keys,
    _tuple_repr, lambda aux, n: f"a tuple of {_plural(n)}", tuple)
_LIST = _NodeKind(
    list, "list", _seq_flatten, lambda aux, cs: list(cs), _seq_flatten_with_keys,
    lambda aux, cs: "[" + _join(cs) + "]", lambda aux, n: f"a list of {_plural(n)}", list)


# ---- dict ----------------------------------------------------------------------------------

def _sorted_keys(d) -> tuple:
    try:
        return tuple(sorted(d))
    except TypeError:
        # keys of mixed, unorderable types: insertion order is the only stable choice
        return tuple(d)


def _dict_flatten(d):
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _dict_flatten_with_keys(d):
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], keys


def _dict_body(keys, cs) -> str:
    return "{" + _join([f"{k!r}: {c}" for k, c in zip(keys, cs)]) + "}"


_DICT = _NodeKind(
    dict, "dict", _dict_flatten, lambda keys, cs: dict(zip(keys, cs)), _dict_flatten_with_keys,
    _dict_body, lambda keys, n: f"a dict with keys {_keys_list(keys)}", dict)


# ---- OrderedDict ---------------------------------------------------------------------------

def _odict_flatten(d):
    keys = tuple(d)
    return [d[k] for k in keys], keys


def _odict_flatten_with_keys(d):
    keys = tuple(d)
    return [(DictKey(k), d[k]) for k in keys], keys


_ODICT = _NodeKind(
    collections.OrderedDict, "OrderedDict", _odict_flatten,
    lambda keys, cs: collections.OrderedDict(zip(keys, cs)), _odict_flatten_with_keys,
    lambda keys, cs: "OrderedDict(" + _dict_body(keys, cs) + ")",
    lambda keys, n: f"an OrderedDict with keys {_keys_list(keys)}", collections.OrderedDict)


# ---- defaultdict ---------------------------------------------------------------------------

def _ddict_flatten(d):
    keys = _sorted_keys(d)
    return [d[k] for k in keys], (d.default_factory, keys)


def _ddict_flatten_with_keys(d):
    keys = _sorted_keys(d)
    return [(DictKey(k), d[k]) for k in keys], (d.default_factory, keys)


def _ddict_unflatten(aux, cs):
    factory, keys = aux
    return collections.defaultdict(factory, zip(keys, cs))


def _ddict_repr(aux, cs):
    factory, keys = aux
    fname = getattr(factory, "__name__", repr(factory))
    return f"defaultdict({fname}, " + _dict_body(keys, cs) + ")"


_DDICT = _NodeKind(
    collections.defaultdict, "defaultdict", _ddict_flatten, _ddict_unflatten,
    _ddict_flatten_with_keys, _ddict_repr,
    lambda aux, n: f"a defaultdict({getattr(aux[0], '__name__', aux[0])!s}) with keys "
                   f"{_keys_list(aux[1])}",
    collections.defaultdict)


# ---- None ----------------------------------------------------------------------------------

_NO_CHILDREN: tuple = ()

_NONE = _NodeKind(
    type(None), "None", lambda x: (_NO_CHILDREN, None), lambda aux, cs: None,
    lambda x: (_NO_CHILDREN, None), lambda aux, cs: "None", lambda aux, n: "None",
    type(None))


# ---- namedtuple ----------------------------------------------------------------------------
# Not in the registry: any tuple subclass with ``_fields`` uses this kind, with the class as
# aux data so that it is rebuilt with the same class.

def _namedtuple_flatten(x):
    return x, type(x)


def _namedtuple_flatten_with_keys(x):
    return [(GetAttrKey(f), c) for f, c in zip(type(x)._fields, x)], type(x)


def _namedtuple_repr(cls, cs):
    return _type_name(cls) + "(" + _join([f"{f}={c}" for f, c in zip(cls._fields, cs)]) + ")"


_NAMEDTUPLE = _NodeKind(
    None, "namedtuple", _namedtuple_flatten, lambda cls, cs: cls(*cs),
    _namedtuple_flatten_with_keys, _namedtuple_repr,
    lambda cls, n: f"a namedtuple {_type_name(cls)} of {_plural(n)}", "namedtuple")


for _kind in (_TUPLE, _LIST, _DICT, _ODICT, _DDICT, _NONE):
    _registry[_kind.nodetype] = _kind
del _kind

_registry_get = _registry.get


def _lookup(t: type) -> _NodeKind | None:
    """The node kind of type ``t``, or None when values of ``t`` are leaves."""
    kind = _registry_get(t)
    if kind is None and issubclass(t, tuple) and hasattr(t, "_fields"):
        return _NAMEDTUPLE
    return kind


# ---- registration --------------------------------------------------------------------------

def _default_repr_fn(name):
    def repr_fn(aux, cs):
        return f"CustomNode({name}[{aux!r}], [{_join(cs)}])"
    return repr_fn


def _default_describe(name):
    def describe(aux, n):
        return f"a {name} node of {_plural(n)} with aux data {aux!r}"
    return describe


def _register(nodetype, flatten, unflatten, flatten_with_keys, repr_fn=None, describe=None):
    if not isinstance(nodetype, type):
        raise TypeError(f"pytree node type must be a class, got {nodetype!r}")
    for what, fn in (("flatten", flatten), ("unflatten", unflatten),
                     ("flatten_with_keys", flatten_with_keys)):
        if not callable(fn):
            raise TypeError(f"{what} function for pytree node {_type_name(nodetype)} must be "
                            f"callable, got {fn!r}")
    name = _type_name(nodetype)
    kind = _NodeKind(nodetype, name, flatten, unflatten, flatten_with_keys,
                     repr_fn or _default_repr_fn(name), describe or _default_describe(name),
                     nodetype)
    with _registry_lock:
        if nodetype in _registry:
            raise ValueError(f"Duplicate pytree node registration: {name} is already "
                             "registered as a pytree node type.")
        _registry[nodetype] = kind
    return kind


def _keys_from_flatten(flatten):
    # custom nodes registered without key names get positional FlattenedIndexKey entries
    def flatten_with_keys(x):
        children, aux = flatten(x)
        return [(FlattenedIndexKey(i), c) for i, c in enumerate(children)], aux
    return flatten_with_keys


def _flatten_from_keys(flatten_with_keys):
    def flatten(x):
        keyed, aux = flatten_with_keys(x)
        return [c for _, c in keyed], aux
    return flatten


def register_pytree_node(nodetype: type, flatten_func: Callable, unflatten_func: Callable,
                         flatten_with_keys_func: Callable | None = None) -> None:
    """Register a type as a pytree node, so tree functions look inside its instances.

    Args:
        nodetype: the class to register. Only exact instances match (not subclasses).
        flatten_func: ``flatten_func(x) -> (children, aux_data)``; ``children`` is an iterable
            of the child subtrees, ``aux_data`` is hashable static data kept in the treedef.
        unflatten_func: ``unflatten_func(aux_data, children) -> x``, the inverse of
            ``flatten_func``. It may receive placeholder objects (not only arrays) as children.
        flatten_with_keys_func: optional ``f(x) -> (((key, child), ...), aux_data)``; gives
            the key path entries of the children. Without it children get
            ``FlattenedIndexKey(i)``.

    Returns:
        None.

    Raises:
        ValueError: if ``nodetype`` is already registered (built-in node types included).

    Example:
        >>> class Pair:
        ...     def __init__(self, a, b):
        ...         self.a, self.b = a, b
        >>> register_pytree_node(Pair, lambda p: ((p.a, p.b), None),
        ...                      lambda aux, ch: Pair(*ch))
        >>> tree_leaves(Pair(1, [2, 3]))
        [1, 2, 3]
    """
    if flatten_with_keys_func is None:
        flatten_with_keys_func = _keys_from_flatten(flatten_func)
    _register(nodetype, flatten_func, unflatten_func, flatten_with_keys_func)


def register_pytree_with_keys(nodetype: type, flatten_with_keys: Callable,
                              unflatten_func: Callable,
                              flatten_func: Callable | None = None) -> None:
    """Register a pytree node type whose children have named key path entries.

    Args:
        nodetype: the class to register.
        flatten_with_keys: ``f(x) -> (((key, child), ...), aux_data)``; keys are key path
            entries such as ``GetAttrKey('w')`` or ``DictKey('w')``.
        unflatten_func: ``unflatten_func(aux_data, children) -> x``.
        flatten_func: optional faster ``f(x) -> (children, aux_data)`` used when key paths are
            not needed; derived from ``flatten_with_keys`` when omitted. Both must return the
            same children in the same order and equal aux data.

    Returns:
        None.

    Raises:
        ValueError: if ``nodetype`` is already registered.

    Example:
        >>> class Box:
        ...     def __init__(self, v):
        ...         self.v = v
        >>> register_pytree_with_keys(Box, lambda b: (((GetAttrKey('v'), b.v),), None),
        ...                           lambda aux, ch: Box(*ch))
        >>> [keystr(p) for p, _ in tree_flatten_with_path(Box(1))[0]]
        ['.v']
    """
    if flatten_func is None:
        flatten_func = _flatten_from_keys(flatten_with_keys)
    _register(nodetype, flatten_func, unflatten_func, flatten_with_keys)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: register ``cls`` using its ``tree_flatten``/``tree_unflatten`` methods.

    ``cls.tree_flatten(self)`` must return ``(children, aux_data)`` and the classmethod
    ``cls.tree_unflatten(aux_data, children)`` must rebuild an instance.

    Args:
        cls: the class to register.

    Returns:
        ``cls`` itself, so this can be used as a decorator.

    Example:
        >>> @register_pytree_node_class
        ... class Scaled:
        ...     def __init__(self, x, scale):
        ...         self.x, self.scale = x, scale
        ...     def tree_flatten(self):
        ...         return (self.x,), self.scale
        ...     @classmethod
        ...     def tree_unflatten(cls, aux, children):
        ...         return cls(children[0], aux)
        >>> tree_structure(Scaled(1.0, 2))
        PyTreeDef(CustomNode(Scaled[2], [*]))
    """
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_pytree_with_keys_class(cls: type) -> type:
    """Class decorator: like ``register_pytree_node_class`` but with named children.

    ``cls.tree_flatten_with_keys(self)`` must return ``(((key, child), ...), aux_data)``;
    ``cls.tree_unflatten(aux_data, children)`` rebuilds an instance. A ``tree_flatten``
    method, when defined, is used as the fast path without keys.

    Args:
        cls: the class to register.

    Returns:
        ``cls`` itself.

    Example:
        >>> @register_pytree_with_keys_class
        ... class Named:
        ...     def __init__(self, w):
        ...         self.w = w
        ...     def tree_flatten_with_keys(self):
        ...         return ((GetAttrKey('w'), self.w),), None
        ...     @classmethod
        ...     def tree_unflatten(cls, aux, children):
        ...         return cls(*children)
        >>> keystr(tree_leaves_with_path(Named(1))[0][0])
        '.w'
    """
    flatten = (lambda x: x.tree_flatten()) if hasattr(cls, "tree_flatten") else None
    register_pytree_with_keys(cls, lambda x: x.tree_flatten_with_keys(), cls.tree_unflatten,
                              flatten)
    return cls


def register_dataclass(nodetype: type | None = None, data_fields: Iterable[str] | None = None,
                       meta_fields: Iterable[str] | None = None):
    """Register a dataclass (or any class built from keyword fields) as a pytree node.

    Data fields are children; meta fields are static, stored in the aux data (so they must
    be hashable) and compared when treedefs are compared. Children get ``GetAttrKey`` entries.

    Can be used three ways::

        register_dataclass(Cls, data_fields=['w', 'b'], meta_fields=['act'])
        @register_dataclass                 # fields inferred from dataclasses.fields:
        @dataclasses.dataclass              # field(metadata={'static': True}) marks meta
        class Cls: ...
        @register_dataclass(data_fields=['w'], meta_fields=['act'])
        class Cls: ...

    Args:
        nodetype: the class. If None, returns a decorator taking the class.
        data_fields: names of the child fields. Inferred for dataclasses when omitted.
        meta_fields: names of the static fields. Inferred for dataclasses when omitted.
            For a dataclass, data and meta fields together must be exactly its ``__init__``
            fields; giving only one of them makes the other the remaining fields.

    Returns:
        ``nodetype`` (or, when ``nodetype`` is None, a decorator).

    Raises:
        TypeError: if fields must be inferred and ``nodetype`` is not a dataclass.
        ValueError: if the fields do not match the dataclass's fields, overlap, or the type
            is already registered.

    Example:
        >>> @register_dataclass
        ... @dataclasses.dataclass
        ... class Dense:
        ...     w: Any
        ...     b: Any
        ...     act: str = dataclasses.field(default='relu', metadata={'static': True})
        >>> tree_structure(Dense(1.0, 2.0))
        PyTreeDef(Dense(w=*, b=*, act='relu'))
    """
    if nodetype is None:
        def decorator(cls):
            return register_dataclass(cls, data_fields, meta_fields)
        return decorator

    data, meta = _dataclass_fields(nodetype, data_fields, meta_fields)
    name = _type_name(nodetype)
    data_keys = tuple(GetAttrKey(f) for f in data)

    def flatten(x):
        return [getattr(x, f) for f in data], tuple([getattr(x, f) for f in meta])

    def flatten_with_keys(x):
        return [(k, getattr(x, f)) for k, f in zip(data_keys, data)], \
            tuple([getattr(x, f) for f in meta])

    def unflatten(aux, children):
        kwargs = dict(zip(meta, aux))
        kwargs.update(zip(data, children))
        return nodetype(**kwargs)

    def repr_fn(aux, cs):
        parts = [f"{f}={c}" for f, c in zip(data, cs)]
        parts += [f"{f}={v!r}" for f, v in zip(meta, aux)]
        return f"{name}({_join(parts)})"

    def describe(aux, n):
        static = ", ".join(f"{f}={v!r}" for f, v in zip(meta, aux))
        return f"a {name} with data fields {list(data)}" + \
            (f" and static fields ({static})" if meta else "")

    _register(nodetype, flatten, unflatten, flatten_with_keys, repr_fn, describe)
    return nodetype


def _dataclass_fields(nodetype, data_fields, meta_fields):
    for label, given in (("data_fields", data_fields), ("meta_fields", meta_fields)):
        if isinstance(given, str):
            # a bare string would silently be split into one-letter field names
            raise TypeError(f"register_dataclass: {label} must be a list of field names, "
                            "not a string")
    data = None if data_fields is None else tuple(data_fields)
    meta = None if meta_fields is None else tuple(meta_fields)
    for label, names in (("data_fields", data), ("meta_fields", meta)):
        if names is not None and len(set(names)) != len(names):
            raise ValueError(f"register_dataclass: duplicate names in {label}: {list(names)}")
    is_dc = dataclasses.is_dataclass(nodetype)
    if not is_dc:
        if data is None or meta is None:
            raise TypeError(f"register_dataclass: {_type_name(nodetype)} is not a dataclass, "
                            "so both data_fields and meta_fields must be given")
    else:
        # fields with init=False cannot be passed to the constructor; __init__ recomputes them
        init_fields = [f for f in dataclasses.fields(nodetype) if f.init]
        names = [f.name for f in init_fields]
        if data is None and meta is None:
            meta = tuple(f.name for f in init_fields if f.metadata.get("static", False))
            data = tuple(f.name for f in init_fields if not f.metadata.get("static", False))
        elif data is None:
            data = tuple(n for n in names if n not in meta)
        elif meta is None:
            meta = tuple(n for n in names if n not in data)
        given = set(data) | set(meta)
        missing = [n for n in names if n not in given]
        extra = sorted(given - set(names))
        if missing or extra:
            raise ValueError(
                f"register_dataclass: data_fields + meta_fields of {_type_name(nodetype)} must "
                f"be exactly its __init__ fields {names}; missing {missing}, unknown {extra}")
    both = sorted(set(data) & set(meta))
    if both:
        raise ValueError(f"register_dataclass: fields {both} are both data and meta fields")
    return data, meta


def register_static(cls: type) -> type:
    """Register ``cls`` so that its instances are pytree nodes with no children.

    The instance itself is kept in the treedef's aux data, so it is treated as static by the
    transformations; it must be hashable and comparable with ``==``.

    Args:
        cls: the class to register.

    Returns:
        ``cls`` itself, so this can be used as a decorator.

    Example:
        >>> @register_static
        ... class Mode:
        ...     def __init__(self, name):
        ...         self.name = name
        >>> tree_leaves([1, Mode('train')])
        [1]
    """
    register_pytree_node(cls, lambda x: (_NO_CHILDREN, x), lambda aux, children: aux)
    return cls


# --------------------------------------------------------------------------------------------
# PyTreeDef
# --------------------------------------------------------------------------------------------

class _StructureMismatch(Exception):
    """Internal: raised inside flatten_up_to, collects the path while unwinding."""

    def __init__(self, expected, actual, actual_kind):
        super().__init__()
        self.expected = expected        # the PyTreeDef node that did not match
        self.actual = actual            # the object found there
        self.actual_kind = actual_kind  # its node kind, or None for a leaf
        self.path: list = []            # (kind, obj, child index, treedef node), innermost first


class _TreeDefSlots:
    """Storage layout of PyTreeDef, without its immutability guard.

    Nodes are built as instances of this class and then switched to PyTreeDef: plain
    attribute stores are about twice as fast as going around PyTreeDef.__setattr__, and
    building treedefs is on the hot path of every transformed call.
    """

    # _key is (kind, aux, *children's _key), "*" for a leaf: a nest of plain tuples, so == and
    # hash() on treedefs recurse in C instead of through Python-level __eq__/__hash__.
    __slots__ = ("_kind", "_aux", "_children", "_num_leaves", "_num_nodes", "_key", "_hash")


class PyTreeDef(_TreeDefSlots):
    """The structure of a pytree: its node types, their aux data and how they nest.

    Obtained from ``tree_flatten`` or ``tree_structure``; not constructed directly. Immutable,
    hashable (when all aux data is hashable) and compared structurally with ``==``.

    Attributes:
        num_leaves: number of leaves in the structure.
        num_nodes: number of nodes, counting leaves and ``None`` as one node each.

    Example:
        >>> td = tree_structure({'a': (1, 2), 'b': None})
        >>> td, td.num_leaves, td.num_nodes
        (PyTreeDef({'a': (*, *), 'b': None}), 2, 5)
        >>> td.unflatten([10, 20])
        {'a': (10, 20), 'b': None}
    """

    __slots__ = ()

    def __init__(self, *args, **kwargs):
        raise TypeError("PyTreeDef cannot be constructed directly; "
                        "use tree_structure() or tree_flatten()")

    def __setattr__(self, name, value):
        raise AttributeError("PyTreeDef is immutable")

    def __delattr__(self, name):
        raise AttributeError("PyTreeDef is immutable")

    @property
    def num_leaves(self) -> int:
        return self._num_leaves

    @property
    def num_nodes(self) -> int:
        return self._num_nodes

    def children(self) -> list[PyTreeDef]:
        """Return the treedefs of the immediate children of the root node.

        Returns:
            A list of ``PyTreeDef``; empty for a leaf or ``None``.

        Example:
            >>> tree_structure([1, (2, 3)]).children()
            [PyTreeDef(*), PyTreeDef((*, *))]
        """
        return list(self._children)

    def node_data(self) -> tuple[type, Any] | None:
        """Return ``(node type, aux data)`` of the root node, or None for a leaf.

        Returns:
            The node's type (the namedtuple class for namedtuples) and its aux data.

        Example:
            >>> tree_structure({'a': 1}).node_data()
            (<class 'dict'>, ('a',))
        """
        kind = self._kind
        if kind is None:
            return None
        if kind is _NAMEDTUPLE:
            return self._aux, self._aux
        return kind.nodetype, self._aux

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        """Build a pytree with this structure from a sequence of leaves.

        Args:
            leaves: iterable of exactly ``num_leaves`` leaves, in flattening order.

        Returns:
            The rebuilt pytree.

        Raises:
            ValueError: if the number of leaves is not ``num_leaves``.

        Example:
            >>> tree_structure((1, [2])).unflatten(['a', 'b'])
            ('a', ['b'])
        """
        if not isinstance(leaves, (list, tuple)):
            leaves = list(leaves)
        if len(leaves) != self._num_leaves:
            raise ValueError(f"Wrong number of leaves to unflatten {self!r}: expected "
                             f"{self._num_leaves}, got {len(leaves)}.")
        return _build(self, iter(leaves).__next__)

    def flatten_up_to(self, tree: Any) -> list[Any]:
        """Flatten ``tree`` only as deep as this treedef's structure goes.

        This treedef must be a prefix of ``tree``'s structure: every node of the treedef must
        be matched by a node of the same type and aux data in ``tree``; wherever the treedef
        has a leaf, the whole corresponding subtree of ``tree`` is returned as one element.

        Args:
            tree: a pytree whose structure has this treedef as a prefix.

        Returns:
            A list of ``num_leaves`` subtrees of ``tree``.

        Raises:
            ValueError: on a structure mismatch; the message names the key path where the
                structures differ and shows both structures.

        Example:
            >>> tree_structure([1, 2]).flatten_up_to([(1, 2), {'a': 3}])
            [(1, 2), {'a': 3}]
        """
        return _flatten_up_to(self, tree, None)

    def compose(self, inner: PyTreeDef) -> PyTreeDef:
        """Return the treedef obtained by replacing every leaf of this one with ``inner``.

        Args:
            inner: the treedef to put at each leaf.

        Returns:
            The composed ``PyTreeDef``.

        Example:
            >>> tree_structure([1, 2]).compose(tree_structure((1, 2)))
            PyTreeDef([(*, *), (*, *)])
        """
        if not isinstance(inner, PyTreeDef):
            raise TypeError(f"compose expects a PyTreeDef, got {type(inner).__name__}")
        return _compose(self, inner)

    def __repr__(self) -> str:
        return f"PyTreeDef({_repr(self)})"

    def __eq__(self, other) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return NotImplemented
        if self._num_leaves != other._num_leaves or self._num_nodes != other._num_nodes:
            return False
        h1, h2 = self._hash, other._hash
        if h1 is not None and h2 is not None and h1 != h2:
            return False
        try:
            return self._key == other._key
        except Exception as e:  # e.g. numpy arrays as aux data: ambiguous truth value
            raise TypeError(f"cannot compare PyTreeDefs: some aux data does not support == "
                            f"returning a bool ({e}); aux data of pytree nodes must be "
                            "hashable values such as tuples, strings or numbers") from None

    def __ne__(self, other) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            try:
                h = hash(self._key)
            except TypeError:
                _raise_unhashable(self)
            _set_hash(self, h)
        return h

    def __reduce__(self):
        if self._kind is None:
            return _leaf_treedef, ()
        return _rebuild_treedef, (self._kind.token, self._aux, self._children)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self


_new_object = object.__new__
_set_hash = _TreeDefSlots._hash.__set__


def _make_node(kind, aux, children: tuple) -> PyTreeDef:
    td = _new_object(_TreeDefSlots)
    num_leaves = 0
    num_nodes = 1
    keys = []
    for c in children:
        num_leaves += c._num_leaves
        num_nodes += c._num_nodes
        keys.append(c._key)
    td._kind = kind
    td._aux = aux
    td._children = children
    td._num_leaves = num_leaves
    td._num_nodes = num_nodes
    td._key = (kind, aux, *keys)
    td._hash = None
    td.__class__ = PyTreeDef
    return td


# every leaf shares this one treedef node
_LEAF = _new_object(_TreeDefSlots)
_LEAF._kind = None
_LEAF._aux = None
_LEAF._children = ()
_LEAF._num_leaves = 1
_LEAF._num_nodes = 1
_LEAF._key = "*"
_LEAF._hash = hash("funcgrad.tree_util.leaf")
_LEAF.__class__ = PyTreeDef


def _raise_unhashable(td: PyTreeDef):
    # find the first node whose aux data cannot be hashed, to name its type in the error
    stack = [td]
    while stack:
        node = stack.pop()
        if node._kind is None:
            continue
        try:
            hash(node._aux)
        except TypeError as e:
            raise TypeError(
                f"PyTreeDef is not hashable: the aux data of a {node._kind.name} node is not "
                f"hashable ({e}). Aux data of pytree nodes must be hashable; make that value "
                "a pytree child or convert it to a hashable value (e.g. a tuple)."
            ) from None
        stack.extend(reversed(node._children))
    raise TypeError(f"PyTreeDef is not hashable: {td!r}")


def _leaf_treedef() -> PyTreeDef:
    return _LEAF


def _rebuild_treedef(token, aux, children) -> PyTreeDef:
    if token == "namedtuple":
        kind = _NAMEDTUPLE
    else:
        kind = _registry_get(token)
        if kind is None:
            raise ValueError(f"cannot unpickle PyTreeDef: {token!r} is not a registered "
                             "pytree node type in this process")
    return _make_node(kind, aux, tuple(children))


def _aux_equal(kind, a, b) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception as e:  # e.g. numpy arrays as aux data: ambiguous truth value
        raise TypeError(f"cannot compare the aux data of two {kind.name} nodes ({e}); aux "
                        "data of pytree nodes must support == returning a bool") from None


def _repr(td: PyTreeDef) -> str:
    kind = td._kind
    if kind is None:
        return "*"
    return kind.repr_fn(td._aux, [_repr(c) for c in td._children])


def _compose(outer: PyTreeDef, inner: PyTreeDef) -> PyTreeDef:
    if outer._kind is None:
        return inner
    return _make_node(outer._kind, outer._aux,
                      tuple([_compose(c, inner) for c in outer._children]))


def _build(td: PyTreeDef, next_leaf) -> Any:
    kind = td._kind
    if kind is None:
        return next_leaf()
    # leaves are taken inline and lists/tuples built directly: saves a call per leaf/node
    children = [next_leaf() if c._kind is None else _build(c, next_leaf) for c in td._children]
    if kind is _LIST:
        return children
    if kind is _TUPLE:
        return tuple(children)
    return kind.unflatten(td._aux, children)


# --------------------------------------------------------------------------------------------
# Flattening
# --------------------------------------------------------------------------------------------

def _walk(x, leaves: list) -> PyTreeDef:
    t = type(x)
    # inline the two commonest containers; everything else goes through the registry
    if t is list:
        return _make_node(_LIST, None, tuple([_walk(c, leaves) for c in x]))
    if t is tuple:
        return _make_node(_TUPLE, None, tuple([_walk(c, leaves) for c in x]))
    kind = _registry_get(t)
    if kind is None:
        if not (issubclass(t, tuple) and hasattr(t, "_fields")):
            leaves.append(x)
            return _LEAF
        kind = _NAMEDTUPLE
    children, aux = kind.flatten(x)
    return _make_node(kind, aux, tuple([_walk(c, leaves) for c in children]))


def _walk_is_leaf(x, leaves: list, is_leaf) -> PyTreeDef:
    if is_leaf(x):
        leaves.append(x)
        return _LEAF
    kind = _lookup(type(x))
    if kind is None:
        leaves.append(x)
        return _LEAF
    children, aux = kind.flatten(x)
    return _make_node(kind, aux, tuple([_walk_is_leaf(c, leaves, is_leaf) for c in children]))


def _walk_with_path(x, path: tuple, out: list, is_leaf) -> PyTreeDef:
    if is_leaf is not None and is_leaf(x):
        out.append((path, x))
        return _LEAF
    kind = _lookup(type(x))
    if kind is None:
        out.append((path, x))
        return _LEAF
    keyed, aux = kind.flatten_with_keys(x)
    return _make_node(kind, aux, tuple([_walk_with_path(c, path + (k,), out, is_leaf)
                                        for k, c in keyed]))


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                 ) -> tuple[list[Any], PyTreeDef]:
    """Split a pytree into its leaves and its structure.

    Args:
        tree: the pytree to flatten.
        is_leaf: optional predicate called on every subtree before it is taken apart; when it
            returns True the subtree is kept whole as a leaf.

    Returns:
        ``(leaves, treedef)``: the leaves in order (dict children by sorted key) and the
        ``PyTreeDef`` describing the structure.

    Example:
        >>> tree_flatten({'b': (1, None), 'a': 2})
        ([2, 1], PyTreeDef({'a': *, 'b': (*, None)}))
        >>> tree_flatten([(1, 2), 3], is_leaf=lambda x: isinstance(x, tuple))
        ([(1, 2), 3], PyTreeDef([*, *]))
    """
    leaves: list = []
    if is_leaf is None:
        treedef = _walk(tree, leaves)
    else:
        treedef = _walk_is_leaf(tree, leaves, is_leaf)
    return leaves, treedef


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree from a treedef and leaves; the inverse of ``tree_flatten``.

    Args:
        treedef: the structure, from ``tree_flatten`` or ``tree_structure``.
        leaves: iterable of exactly ``treedef.num_leaves`` leaves.

    Returns:
        The pytree.

    Raises:
        ValueError: if the number of leaves does not match (message gives both counts).

    Example:
        >>> leaves, td = tree_flatten({'a': [1, 2]})
        >>> tree_unflatten(td, [x + 1 for x in leaves])
        {'a': [2, 3]}
    """
    if not isinstance(treedef, PyTreeDef):
        raise TypeError(f"tree_unflatten expects a PyTreeDef as its first argument, got "
                        f"{type(treedef).__name__}")
    return treedef.unflatten(leaves)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    """Return the leaves of a pytree, in flattening order.

    Args:
        tree: the pytree.
        is_leaf: optional predicate marking subtrees to keep whole (see ``tree_flatten``).

    Returns:
        The list of leaves.

    Example:
        >>> tree_leaves([1, {'x': 2, 'y': None}, (3,)])
        [1, 2, 3]
    """
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    """Return the ``PyTreeDef`` of a pytree.

    Args:
        tree: the pytree.
        is_leaf: optional predicate marking subtrees to keep whole (see ``tree_flatten``).

    Returns:
        The treedef.

    Example:
        >>> tree_structure({'w': 1, 'b': [2, None]})
        PyTreeDef({'b': [*, None], 'w': *})
    """
    return tree_flatten(tree, is_leaf)[1]


def tree_flatten_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                           ) -> tuple[list[tuple[tuple, Any]], PyTreeDef]:
    """Flatten a pytree, pairing each leaf with its key path.

    Args:
        tree: the pytree.
        is_leaf: optional predicate marking subtrees to keep whole (see ``tree_flatten``).

    Returns:
        ``(path_leaves, treedef)`` where ``path_leaves`` is a list of ``(key_path, leaf)`` and
        ``key_path`` is a tuple of key entries (``DictKey``, ``SequenceKey``, ...).

    Example:
        >>> pl, _ = tree_flatten_with_path({'a': [1, 2]})
        >>> [(keystr(p), x) for p, x in pl]
        [("['a'][0]", 1), ("['a'][1]", 2)]
    """
    out: list = []
    treedef = _walk_with_path(tree, (), out, is_leaf)
    return out, treedef


def tree_leaves_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                          ) -> list[tuple[tuple, Any]]:
    """Return ``(key_path, leaf)`` pairs of a pytree, in flattening order.

    Args:
        tree: the pytree.
        is_leaf: optional predicate marking subtrees to keep whole (see ``tree_flatten``).

    Returns:
        A list of ``(key_path, leaf)``.

    Example:
        >>> [keystr(p) for p, _ in tree_leaves_with_path((1, {'k': 2}))]
        ['[0]', "[1]['k']"]
    """
    return tree_flatten_with_path(tree, is_leaf)[0]


# --------------------------------------------------------------------------------------------
# flatten_up_to and structure mismatch messages
# --------------------------------------------------------------------------------------------

def _up_to(td: PyTreeDef, x, out: list) -> None:
    kind = td._kind
    if kind is None:
        out.append(x)
        return
    t = type(x)
    xkind = _registry_get(t)
    if xkind is None and issubclass(t, tuple) and hasattr(t, "_fields"):
        xkind = _NAMEDTUPLE
    if kind is _DICT and xkind is _DICT:
        # match dicts by key set, so insertion order of unsortable keys does not matter
        keys = td._aux
        if len(x) != len(keys) or any(k not in x for k in keys):
            raise _StructureMismatch(td, x, xkind)
        children = [x[k] for k in keys]
    else:
        if xkind is not kind:
            raise _StructureMismatch(td, x, xkind)
        children, aux = kind.flatten(x)
        if not _aux_equal(kind, aux, td._aux):
            raise _StructureMismatch(td, x, xkind)
        if not isinstance(children, (list, tuple)):
            children = list(children)
        if len(children) != len(td._children):
            raise _StructureMismatch(td, x, xkind)
    i = 0
    try:
        for i, c_td in enumerate(td._children):
            _up_to(c_td, children[i], out)
    except _StructureMismatch as e:
        e.path.append((kind, x, i, td))
        raise


def _describe_node(kind, aux, n: int) -> str:
    return kind.describe(aux, n)


def _describe_actual(x, kind) -> str:
    if kind is None:
        return f"a leaf of type {_type_name(type(x))}"
    try:
        children, aux = kind.flatten(x)
        n = len(children) if isinstance(children, (list, tuple)) else len(list(children))
    except Exception as e:  # describing must never hide the real error
        return f"a {kind.name} node (could not be flattened: {e})"
    return _describe_node(kind, aux, n)


def _dict_key_diff(expected_keys, x) -> str:
    if not isinstance(x, dict):
        return ""
    missing = [k for k in expected_keys if k not in x]
    unexpected = [k for k in x if k not in set(expected_keys)]
    parts = []
    if missing:
        parts.append(f"missing keys {_keys_list(missing)}")
    if unexpected:
        parts.append(f"unexpected keys {_keys_list(unexpected)}")
    return f" ({'; '.join(parts)})" if parts else ""


def _path_key(kind, x, i: int, td: PyTreeDef):
    if kind is _DICT:
        return DictKey(td._aux[i])
    try:
        keyed, _ = kind.flatten_with_keys(x)
        return list(keyed)[i][0]
    except Exception:  # a broken user flatten_with_keys must not mask the mismatch
        return FlattenedIndexKey(i)


_MAX_STRUCTURE_REPR = 2000


def _short_repr(td) -> str:
    s = repr(td)
    if len(s) > _MAX_STRUCTURE_REPR:
        s = s[:_MAX_STRUCTURE_REPR - 5] + " ...)"
    return s


def _mismatch_message(treedef: PyTreeDef, tree, e: _StructureMismatch) -> str:
    path = tuple(_path_key(kind, x, i, td) for kind, x, i, td in reversed(e.path))
    where = f"key path {keystr(path)}" if path else "the root of the tree (key path '')"
    exp = e.expected
    expected = _describe_node(exp._kind, exp._aux, len(exp._children))
    got = _describe_actual(e.actual, e.actual_kind)
    diff = ""
    if exp._kind in (_DICT, _ODICT, _DDICT) and e.actual_kind in (_DICT, _ODICT, _DDICT):
        keys = exp._aux[1] if exp._kind is _DDICT else exp._aux
        diff = _dict_key_diff(keys, e.actual)
    try:
        actual_structure = _short_repr(tree_structure(tree))
    except Exception as err:  # a user flatten that fails must not hide the mismatch
        actual_structure = f"<could not be computed: {err}>"
    return (f"Tree structure mismatch at {where}: expected {expected}, got {got}{diff}. "
            f"Expected structure: {_short_repr(treedef)}. Got: {actual_structure}.")


def _flatten_up_to(treedef: PyTreeDef, tree, context: str | None) -> list:
    out: list = []
    try:
        _up_to(treedef, tree, out)
    except _StructureMismatch as e:
        msg = _mismatch_message(treedef, tree, e)
        if context:
            msg = f"{context}: {msg}"
        raise ValueError(msg) from None
    return out


# --------------------------------------------------------------------------------------------
# Mapping and reductions
# --------------------------------------------------------------------------------------------

def _ordinal_context(fname: str, i: int) -> str:
    return (f"{fname}: tree argument {i + 1} (rest[{i - 1}]) does not have the first tree's "
            "structure as a prefix")


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any,
             is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply ``f`` to the leaves of one or more pytrees, returning a pytree of the results.

    With several trees, ``f`` gets the corresponding leaves of all of them. Each tree in
    ``rest`` must have the structure of ``tree`` or have it as a prefix: where ``tree`` has a
    leaf, the matching whole subtree of the other tree is passed to ``f``.

    Args:
        f: function taking ``1 + len(rest)`` arguments.
        tree: the pytree whose structure the result has.
        *rest: further pytrees, each with ``tree``'s structure as a prefix of its own.
        is_leaf: optional predicate marking subtrees of ``tree`` to treat as leaves.

    Returns:
        A pytree with ``tree``'s structure whose leaves are ``f(leaf, *rest_leaves)``.

    Raises:
        ValueError: if a tree in ``rest`` does not match; the message names the key path.

    Example:
        >>> tree_map(lambda x, y: x + y, {'a': 1, 'b': (2, 3)}, {'a': 10, 'b': (20, 30)})
        {'a': 11, 'b': (22, 33)}
        >>> tree_map(lambda x, y: (x, y), [1, 2], [(3, 4), {'k': 5}])
        [(1, (3, 4)), (2, {'k': 5})]
    """
    leaves, treedef = tree_flatten(tree, is_leaf)
    if not rest:
        return treedef.unflatten([f(x) for x in leaves])
    all_leaves = [leaves]
    for i, r in enumerate(rest, start=1):
        all_leaves.append(_flatten_up_to(treedef, r, _ordinal_context("tree_map", i)))
    return treedef.unflatten([f(*xs) for xs in zip(*all_leaves)])


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Like ``tree_map``, but ``f`` also receives each leaf's key path as first argument.

    Args:
        f: function ``f(key_path, leaf, *rest_leaves)``.
        tree: the pytree whose structure the result has.
        *rest: further pytrees, each with ``tree``'s structure as a prefix of its own.
        is_leaf: optional predicate marking subtrees of ``tree`` to treat as leaves.

    Returns:
        A pytree with ``tree``'s structure whose leaves are ``f(path, leaf, *rest_leaves)``.

    Raises:
        ValueError: if a tree in ``rest`` does not match; the message names the key path.

    Example:
        >>> tree_map_with_path(lambda p, x: keystr(p), {'a': [0, 0]})
        {'a': ["['a'][0]", "['a'][1]"]}
    """
    path_leaves, treedef = tree_flatten_with_path(tree, is_leaf)
    paths = [p for p, _ in path_leaves]
    all_leaves = [[x for _, x in path_leaves]]
    for i, r in enumerate(rest, start=1):
        all_leaves.append(_flatten_up_to(treedef, r, _ordinal_context("tree_map_with_path", i)))
    return treedef.unflatten([f(p, *xs) for p, xs in zip(paths, zip(*all_leaves))])


_NO_INITIALIZER = object()


def tree_reduce(function: Callable[[Any, Any], Any], tree: Any,
                initializer: Any = _NO_INITIALIZER,
                is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Fold the leaves of a pytree with a two-argument function, left to right.

    Args:
        function: ``function(accumulated, leaf) -> accumulated``.
        tree: the pytree.
        initializer: optional starting value; without it the first leaf is the start.
        is_leaf: optional predicate marking subtrees to keep whole (see ``tree_flatten``).

    Returns:
        The reduced value.

    Raises:
        TypeError: if the tree has no leaves and no initializer is given.

    Example:
        >>> tree_reduce(lambda a, b: a + b, {'x': 1, 'y': [2, 3]})
        6
        >>> tree_reduce(max, [], initializer=0)
        0
    """
    leaves = tree_leaves(tree, is_leaf)
    if initializer is _NO_INITIALIZER:
        if not leaves:
            raise TypeError("tree_reduce() of a tree with no leaves and no initializer")
        return functools.reduce(function, leaves)
    return functools.reduce(function, leaves, initializer)


def tree_all(tree: Any, *, is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Return True if every leaf of the pytree is truthy (True for a tree with no leaves).

    Args:
        tree: the pytree.
        is_leaf: optional predicate marking subtrees to keep whole (see ``tree_flatten``).

    Returns:
        ``all(tree_leaves(tree))``.

    Example:
        >>> tree_all({'a': True, 'b': [1, 2]}), tree_all([True, 0])
        (True, False)
    """
    return all(tree_leaves(tree, is_leaf))


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    """Return True if ``treedef`` is the structure of a single leaf.

    ``None`` and empty containers are nodes without children, not leaves.

    Args:
        treedef: a ``PyTreeDef``.

    Returns:
        Whether the treedef is a leaf.

    Example:
        >>> treedef_is_leaf(tree_structure(1.0)), treedef_is_leaf(tree_structure(None))
        (True, False)
    """
    return treedef._kind is None


def all_leaves(iterable: Iterable[Any], is_leaf: Callable[[Any], bool] | None = None) -> bool:
    """Return True if every element of ``iterable`` is a pytree leaf.

    Args:
        iterable: the values to check.
        is_leaf: optional predicate; elements for which it returns True count as leaves.

    Returns:
        Whether all elements are leaves. ``None`` is a node, not a leaf.

    Example:
        >>> all_leaves([1, 2.0, 'x']), all_leaves([1, [2]]), all_leaves([None])
        (True, False, False)
    """
    for x in iterable:
        if is_leaf is not None and is_leaf(x):
            continue
        if _lookup(type(x)) is not None:
            return False
    return True


def tree_transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef | None,
                   pytree_to_transpose: Any) -> Any:
    """Turn a tree of trees inside out: an outer structure of inner structures becomes an
    inner structure of outer structures.

    Args:
        outer_treedef: structure of the outer tree.
        inner_treedef: structure of each inner tree (every one must match it as a prefix). If
            None, it is taken from the first inner tree.
        pytree_to_transpose: a pytree with structure ``outer_treedef.compose(inner_treedef)``.

    Returns:
        A pytree with structure ``inner_treedef.compose(outer_treedef)``.

    Raises:
        ValueError: if ``pytree_to_transpose`` does not have the expected structure.

    Example:
        >>> outer, inner = tree_structure([0, 0]), tree_structure({'a': 0, 'b': 0})
        >>> tree_transpose(outer, inner, [{'a': 1, 'b': 2}, {'a': 3, 'b': 4}])
        {'a': [1, 3], 'b': [2, 4]}
    """
    context = "tree_transpose: the tree does not have structure outer_treedef.compose(" \
              "inner_treedef)"
    if inner_treedef is None:
        inner_trees = _flatten_up_to(outer_treedef, pytree_to_transpose, context)
        if not inner_trees:
            raise ValueError("tree_transpose: cannot infer inner_treedef when outer_treedef has "
                             "no leaves; pass inner_treedef explicitly")
        inner_treedef = tree_structure(inner_trees[0])
    # matching against the composed structure gives mismatch errors the full key path
    flat = _flatten_up_to(outer_treedef.compose(inner_treedef), pytree_to_transpose, context)
    n = inner_treedef.num_leaves
    columns = [flat[j::n] for j in range(n)]
    return inner_treedef.unflatten([outer_treedef.unflatten(col) for col in columns])


# --------------------------------------------------------------------------------------------
# Partial
# --------------------------------------------------------------------------------------------

class _OpaqueCallable:
    """Wraps a plain functools.partial given to ``Partial`` so that its bound arguments stay
    hidden (static) instead of being merged into the pytree children."""

    __slots__ = ("wrapped",)

    def __init__(self, wrapped):
        self.wrapped = wrapped

    def __call__(self, *args, **kwargs):
        return self.wrapped(*args, **kwargs)

    def __eq__(self, other):
        return isinstance(other, _OpaqueCallable) and self.wrapped == other.wrapped

    def __hash__(self):
        return hash(self.wrapped)

    def __repr__(self):
        return repr(self.wrapped)


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: the bound arguments are its children and the
    function is static aux data. Use it to pass closures through transformations.

    The function must be hashable (functions are, by identity). Nested ``Partial`` objects are
    merged; a plain ``functools.partial`` passed as the function keeps its own bound arguments
    static.

    Example:
        >>> add = Partial(lambda x, y: x + y, 1.0)
        >>> add(2.0)
        3.0
        >>> tree_leaves(add)
        [1.0]
        >>> tree_map(lambda v: v * 10, add)(2.0)
        12.0
    """

    def __new__(cls, func, *args, **kwargs):
        if isinstance(func, Partial):
            args = func.args + args
            kwargs = {**func.keywords, **kwargs}
            func = func.func
        elif isinstance(func, functools.partial):
            func = _OpaqueCallable(func)
        return super().__new__(cls, func, *args, **kwargs)


def _partial_repr(func, cs):
    name = getattr(func, "__qualname__", None) or repr(func)
    return f"Partial({name}, {cs[0]}, {cs[1]})"


_register(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, cs: Partial(func, *cs[0], **cs[1]),
    lambda p: (((GetAttrKey("args"), p.args), (GetAttrKey("keywords"), p.keywords)), p.func),
    _partial_repr,
    lambda func, n: f"a Partial of {getattr(func, '__qualname__', None) or repr(func)}",
)
