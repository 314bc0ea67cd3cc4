"""Tests for funcgrad.tree_util: flattening, treedefs, key paths, registration, Partial."""
import collections
import dataclasses
import functools
import pickle
import typing
from collections import OrderedDict, defaultdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from funcgrad import tree_util as tu

Point = collections.namedtuple("Point", ["x", "y"])


class Pair(typing.NamedTuple):
    first: typing.Any
    second: typing.Any


# --------------------------------------------------------------------------------------------
# Hypothesis strategy and independent reference implementations
# --------------------------------------------------------------------------------------------

_keys = st.text(alphabet="abcde", min_size=1, max_size=3)


def _extend(children):
    dicts = st.dictionaries(_keys, children, max_size=3)
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        dicts,
        # reversed insertion order, so OrderedDict order differs from sorted order
        dicts.map(lambda d: OrderedDict(reversed(list(d.items())))),
        dicts.map(lambda d: defaultdict(list, d)),
        st.tuples(children, children).map(lambda t: Point(*t)),
        st.tuples(children, children).map(lambda t: Pair(*t)),
    )


pytrees = st.recursive(st.one_of(st.integers(-9, 9), st.none()), _extend, max_leaves=10)


def ref_leaves(tree):
    """Leaves in the documented order, computed without tree_util."""
    if tree is None:
        return []
    if type(tree) in (list, tuple) or hasattr(type(tree), "_fields"):
        return [x for c in tree for x in ref_leaves(c)]
    if type(tree) is OrderedDict:
        return [x for k in tree for x in ref_leaves(tree[k])]
    if type(tree) in (dict, defaultdict):
        return [x for k in sorted(tree) for x in ref_leaves(tree[k])]
    return [tree]


def ref_num_nodes(tree):
    if type(tree) in (list, tuple) or hasattr(type(tree), "_fields"):
        return 1 + sum(ref_num_nodes(c) for c in tree)
    if isinstance(tree, dict):
        return 1 + sum(ref_num_nodes(c) for c in tree.values())
    return 1  # a leaf or None


def strict_eq(a, b):
    """Equality that also checks container types, key order of OrderedDicts and factories."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        if type(a) is OrderedDict and list(a) != list(b):
            return False
        if type(a) is defaultdict and a.default_factory is not b.default_factory:
            return False
        return set(a) == set(b) and all(strict_eq(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strict_eq(x, y) for x, y in zip(a, b))
    return a == b


# --------------------------------------------------------------------------------------------
# Round trips and counts
# --------------------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(pytrees)
def test_round_trip_and_counts(tree):
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == ref_leaves(tree)
    assert treedef.num_leaves == len(leaves)
    assert treedef.num_nodes == ref_num_nodes(tree)
    assert strict_eq(tu.tree_unflatten(treedef, leaves), tree)
    assert tu.tree_leaves(tree) == leaves
    assert tu.tree_structure(tree) == treedef


@settings(max_examples=100, deadline=None)
@given(pytrees)
def test_tree_map_preserves_structure_and_maps_every_leaf(tree):
    mapped = tu.tree_map(lambda x: x + 100, tree)
    assert tu.tree_structure(mapped) == tu.tree_structure(tree)
    assert hash(tu.tree_structure(mapped)) == hash(tu.tree_structure(tree))
    assert tu.tree_leaves(mapped) == [x + 100 for x in ref_leaves(tree)]
    # several trees: the second tree's leaves are paired with the first's
    summed = tu.tree_map(lambda a, b: a + b, tree, mapped)
    assert tu.tree_leaves(summed) == [2 * x + 100 for x in ref_leaves(tree)]


@settings(max_examples=100, deadline=None)
@given(pytrees)
def test_flatten_with_path_agrees_with_flatten(tree):
    path_leaves, treedef = tu.tree_flatten_with_path(tree)
    assert treedef == tu.tree_structure(tree)
    assert [x for _, x in path_leaves] == tu.tree_leaves(tree)
    # following each key path from the root reaches the leaf
    for path, leaf in path_leaves:
        node = tree
        for k in path:
            if isinstance(k, tu.DictKey):
                node = node[k.key]
            elif isinstance(k, tu.SequenceKey):
                node = node[k.idx]
            else:
                assert isinstance(k, tu.GetAttrKey)
                node = getattr(node, k.name)
        assert node == leaf


@settings(max_examples=100, deadline=None)
@given(pytrees)
def test_flatten_up_to_own_structure_gives_leaves(tree):
    leaves, treedef = tu.tree_flatten(tree)
    assert treedef.flatten_up_to(tree) == leaves


@pytest.mark.parametrize("tree, n_leaves, n_nodes", [
    (1, 1, 1),
    (None, 0, 1),
    ((), 0, 1),
    ([1, None, (2, 3)], 3, 6),
    ({"a": None, "b": [1]}, 1, 4),
    (Point(1, (2,)), 2, 4),
])
def test_leaf_and_node_counts(tree, n_leaves, n_nodes):
    treedef = tu.tree_structure(tree)
    assert (treedef.num_leaves, treedef.num_nodes) == (n_leaves, n_nodes)


# --------------------------------------------------------------------------------------------
# Built-in node kinds
# --------------------------------------------------------------------------------------------

def test_dict_children_sorted_by_key():
    leaves, treedef = tu.tree_flatten({"b": 1, "a": 2, "c": 3})
    assert leaves == [2, 1, 3]
    out = tu.tree_unflatten(treedef, ["A", "B", "C"])
    assert out == {"a": "A", "b": "B", "c": "C"}
    assert tu.tree_structure({"b": 1, "a": 2}) == tu.tree_structure({"a": 5, "b": 6})


def test_dict_with_unsortable_keys_uses_insertion_order():
    tree = {1: "x", "a": "y", (2,): "z"}
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == ["x", "y", "z"]
    assert tu.tree_unflatten(treedef, leaves) == tree


def test_dict_with_unsortable_keys_maps_against_other_insertion_order():
    a = {1: 10, "a": 20}
    b = {"a": 2, 1: 1}
    assert tu.tree_map(lambda x, y: x + y, a, b) == {1: 11, "a": 22}


def test_ordered_dict_keeps_insertion_order():
    tree = OrderedDict([("z", 1), ("a", 2), ("m", 3)])
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == [1, 2, 3]
    out = tu.tree_unflatten(treedef, leaves)
    assert type(out) is OrderedDict and list(out) == ["z", "a", "m"]
    assert treedef != tu.tree_structure(OrderedDict([("a", 2), ("z", 1), ("m", 3)]))
    assert treedef != tu.tree_structure(dict(tree))


def test_defaultdict_keeps_factory_and_sorts_keys():
    tree = defaultdict(list, {"b": 1, "a": 2})
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == [2, 1]
    out = tu.tree_unflatten(treedef, [5, 6])
    assert type(out) is defaultdict and out.default_factory is list
    assert dict(out) == {"a": 5, "b": 6}
    assert treedef != tu.tree_structure(defaultdict(set, {"b": 1, "a": 2}))


def test_namedtuple_rebuilt_with_same_class():
    out = tu.tree_map(lambda v: v * 2, Point(1, Pair(2, 3)))
    assert type(out) is Point and type(out.y) is Pair
    assert out == Point(2, Pair(4, 6))
    assert tu.tree_structure(Point(1, 2)) != tu.tree_structure((1, 2))
    assert tu.tree_structure(Point(1, 2)) != tu.tree_structure(Pair(1, 2))


def test_tuple_subclass_without_fields_is_a_leaf():
    class MyTuple(tuple):
        pass

    t = MyTuple((1, 2))
    assert tu.tree_leaves([t]) == [t]


def test_none_is_an_empty_subtree_not_a_leaf():
    assert tu.tree_leaves(None) == []
    assert tu.tree_leaves([None, 1, {"a": None}]) == [1]
    calls = []
    out = tu.tree_map(lambda x: calls.append(x) or x, [None, 1])
    assert out == [None, 1] and calls == [1]
    treedef = tu.tree_structure(None)
    assert treedef.num_leaves == 0 and treedef.num_nodes == 1
    assert not tu.treedef_is_leaf(treedef)
    assert treedef != tu.tree_structure(1)
    assert tu.tree_unflatten(treedef, []) is None


def test_other_objects_are_leaves():
    obj = object()
    for leaf in (1, 2.5, "str", b"bytes", obj, {1, 2}):
        leaves, treedef = tu.tree_flatten(leaf)
        assert leaves == [leaf]
        assert tu.treedef_is_leaf(treedef)


def test_dict_subclass_is_a_leaf():
    class MyDict(dict):
        pass

    d = MyDict(a=1)
    assert tu.tree_leaves(d) == [d]


# --------------------------------------------------------------------------------------------
# PyTreeDef
# --------------------------------------------------------------------------------------------

def test_treedef_equality_and_hashing():
    a = tu.tree_structure({"w": [1, 2], "b": (3, None)})
    b = tu.tree_structure({"b": ("x", None), "w": ["y", "z"]})
    assert a == b and not (a != b)
    assert hash(a) == hash(b)
    assert {a: "cached"}[b] == "cached"
    different = [
        tu.tree_structure({"w": [1, 2], "b": (3, 4)}),       # None vs leaf
        tu.tree_structure({"w": (1, 2), "b": (3, None)}),    # list vs tuple
        tu.tree_structure({"w": [1, 2, 3], "b": (3, None)}),  # child count
        tu.tree_structure({"v": [1, 2], "b": (3, None)}),    # dict key
    ]
    for d in different:
        assert a != d
    assert len({a, b, *different}) == 1 + len(different)
    assert a != "not a treedef"


def test_treedef_repr():
    treedef = tu.tree_structure({"w": 1, "b": [2, None]})
    assert repr(treedef) == "PyTreeDef({'b': [*, None], 'w': *})"
    assert repr(tu.tree_structure((1,))) == "PyTreeDef((*,))"
    assert repr(tu.tree_structure(Point(1, [2]))) == "PyTreeDef(Point(x=*, y=[*]))"
    assert repr(tu.tree_structure(5)) == "PyTreeDef(*)"
    assert repr(tu.tree_structure(OrderedDict(b=1, a=2))) == \
        "PyTreeDef(OrderedDict({'b': *, 'a': *}))"


def test_treedef_children_and_compose():
    treedef = tu.tree_structure([1, (2, 3), None])
    assert treedef.children() == [tu.tree_structure(0), tu.tree_structure((0, 0)),
                                  tu.tree_structure(None)]
    assert tu.tree_structure(1).children() == []
    composed = tu.tree_structure([0, 0]).compose(tu.tree_structure({"a": 0, "b": 0}))
    assert composed == tu.tree_structure([{"a": 0, "b": 0}, {"a": 0, "b": 0}])


def test_treedef_is_immutable():
    treedef = tu.tree_structure([1, 2])
    with pytest.raises(AttributeError):
        treedef.num_leaves = 5
    with pytest.raises(AttributeError):
        treedef._aux = "x"
    with pytest.raises(TypeError):
        tu.PyTreeDef()
    assert treedef.num_leaves == 2


def test_treedef_pickles():
    treedef = tu.tree_structure({"a": [1, Point(2, None)], "b": OrderedDict(z=1)})
    again = pickle.loads(pickle.dumps(treedef))
    assert again == treedef and hash(again) == hash(treedef)
    assert again.unflatten([1, 2, 3]) == {"a": [1, Point(2, None)], "b": OrderedDict(z=3)}


def test_unflatten_wrong_leaf_count_names_both_counts():
    treedef = tu.tree_structure([1, (2, 3)])
    with pytest.raises(ValueError, match="expected 3, got 2"):
        tu.tree_unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match="expected 3, got 4"):
        treedef.unflatten(iter([1, 2, 3, 4]))


def test_unflatten_accepts_any_iterable():
    treedef = tu.tree_structure((1, [2]))
    assert treedef.unflatten(x for x in "ab") == ("a", ["b"])


def test_node_data():
    assert tu.tree_structure({"a": 1}).node_data() == (dict, ("a",))
    assert tu.tree_structure(Point(1, 2)).node_data() == (Point, Point)
    assert tu.tree_structure(3).node_data() is None


# --------------------------------------------------------------------------------------------
# is_leaf, tree_map with several trees and prefixes
# --------------------------------------------------------------------------------------------

def test_is_leaf_stops_descent():
    tree = [(1, 2), [3, (4, 5)]]
    leaves, treedef = tu.tree_flatten(tree, is_leaf=lambda x: type(x) is tuple)
    assert leaves == [(1, 2), 3, (4, 5)]
    assert treedef == tu.tree_structure([0, [0, 0]])
    assert treedef.num_leaves == 3 and treedef.num_nodes == 5
    assert tu.tree_unflatten(treedef, leaves) == tree


def test_is_leaf_can_make_none_a_leaf():
    assert tu.tree_leaves([None, 1], is_leaf=lambda x: x is None) == [None, 1]
    out = tu.tree_map(lambda x: 0 if x is None else x, [None, 1], is_leaf=lambda x: x is None)
    assert out == [0, 1]


def test_tree_map_several_trees():
    out = tu.tree_map(lambda a, b, c: a + b * c, {"x": 1, "y": (2, 3)},
                      {"x": 10, "y": (20, 30)}, {"x": 2, "y": (3, 4)})
    assert out == {"x": 21, "y": (62, 123)}


def test_tree_map_with_prefix_tree():
    # the first tree is a prefix of the second: whole subtrees are passed to f
    out = tu.tree_map(lambda n, sub: (n, tu.tree_leaves(sub)), {"a": 1, "b": 2},
                      {"a": [1, 2, 3], "b": {"c": (4,)}})
    assert out == {"a": (1, [1, 2, 3]), "b": (2, [4])}


def test_tree_map_rest_must_not_be_a_strict_prefix_of_tree():
    # only the first tree may be the prefix, not the other way round
    with pytest.raises(ValueError, match="expected a list of 2 children, got a leaf"):
        tu.tree_map(lambda a, b: a, {"a": [1, 2]}, {"a": 1})


def test_flatten_up_to_keeps_subtrees():
    treedef = tu.tree_structure([0, {"k": 0}])
    assert treedef.flatten_up_to([(1, 2), {"k": [3]}]) == [(1, 2), [3]]


# --------------------------------------------------------------------------------------------
# Structure mismatch messages
# --------------------------------------------------------------------------------------------

def test_mismatch_message_names_key_path_and_structures():
    with pytest.raises(ValueError) as info:
        tu.tree_map(lambda a, b: a, {"a": 1, "b": [1, [2, 3]]}, {"a": 1, "b": [1, (2, 3, 4)]})
    msg = str(info.value)
    assert "key path ['b'][1]" in msg
    assert "expected a list of 2 children, got a tuple of 3 children" in msg
    assert "PyTreeDef({'a': *, 'b': [*, [*, *]]})" in msg
    assert "PyTreeDef({'a': *, 'b': [*, (*, *, *)]})" in msg
    assert "rest[0]" in msg


def test_mismatch_message_for_dict_keys():
    with pytest.raises(ValueError) as info:
        tu.tree_structure({"p": {"w": 0, "b": 0}}).flatten_up_to({"p": {"w": 1, "c": 2}})
    msg = str(info.value)
    assert "key path ['p']:" in msg
    assert "missing keys ['b']" in msg and "unexpected keys ['c']" in msg


def test_mismatch_message_for_none_vs_leaf():
    with pytest.raises(ValueError) as info:
        tu.tree_map(lambda a, b: a, [1, None], [1, 2])
    assert "key path [1]: expected None, got a leaf of type int" in str(info.value)


def test_mismatch_message_at_root():
    with pytest.raises(ValueError, match="root") as info:
        tu.tree_structure([1, 2]).flatten_up_to((1, 2))
    assert "expected a list of 2 children, got a tuple of 2 children" in str(info.value)


def test_mismatch_message_for_namedtuple_and_attr_path():
    with pytest.raises(ValueError) as info:
        tu.tree_structure(Point(1, [2])).flatten_up_to(Point(1, [2, 3]))
    assert "key path .y:" in str(info.value)
    with pytest.raises(ValueError, match="namedtuple Point"):
        tu.tree_structure(Point(1, 2)).flatten_up_to(Pair(1, 2))


def test_mismatch_in_tree_map_with_path_and_second_rest_tree():
    with pytest.raises(ValueError) as info:
        tu.tree_map_with_path(lambda p, a, b, c: a, [1, {"q": 2}], [1, {"q": 2}], [1, {"r": 2}])
    msg = str(info.value)
    assert "rest[1]" in msg and "key path [1]" in msg


# --------------------------------------------------------------------------------------------
# Key paths
# --------------------------------------------------------------------------------------------

def test_key_classes_str():
    assert str(tu.DictKey("a")) == "['a']"
    assert str(tu.DictKey(3)) == "[3]"
    assert str(tu.SequenceKey(0)) == "[0]"
    assert str(tu.GetAttrKey("name")) == ".name"
    assert str(tu.FlattenedIndexKey(2)) == "[2]"
    assert tu.DictKey("a") == tu.DictKey("a") and tu.DictKey("a") != tu.DictKey("b")
    assert len({tu.SequenceKey(0), tu.SequenceKey(0), tu.SequenceKey(1)}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        tu.DictKey("a").key = "b"


def test_keystr_of_nested_path():
    W = collections.namedtuple("W", ["w"])
    tree = {"params": {"dense_0": W(w=[1.0, 2.0])}}
    paths = [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(tree)]
    assert paths == ["['params']['dense_0'].w[0]", "['params']['dense_0'].w[1]"]
    path = tu.tree_leaves_with_path(tree)[0][0]
    assert path == (tu.DictKey("params"), tu.DictKey("dense_0"), tu.GetAttrKey("w"),
                    tu.SequenceKey(0))
    assert tu.keystr(path, simple=True, separator="/") == "params/dense_0/w/0"


def test_tree_map_with_path():
    out = tu.tree_map_with_path(lambda p, x, y: f"{tu.keystr(p)}={x + y}",
                                {"a": [1, 2], "b": 3}, {"a": [10, 20], "b": 30})
    assert out == {"a": ["['a'][0]=11", "['a'][1]=22"], "b": "['b']=33"}


def test_flatten_with_path_respects_is_leaf():
    pl, treedef = tu.tree_flatten_with_path({"a": (1, 2), "b": [3]},
                                            is_leaf=lambda x: type(x) is tuple)
    assert [(tu.keystr(p), x) for p, x in pl] == [("['a']", (1, 2)), ("['b'][0]", 3)]
    assert treedef.num_leaves == 2


# --------------------------------------------------------------------------------------------
# Registration
# --------------------------------------------------------------------------------------------

def test_register_pytree_node_round_trip_and_flattened_index_keys():
    class Box:
        def __init__(self, a, b, tag):
            self.a, self.b, self.tag = a, b, tag

    tu.register_pytree_node(Box, lambda x: ((x.a, x.b), x.tag),
                            lambda tag, ch: Box(ch[0], ch[1], tag))
    tree = [Box(1, {"k": 2}, "t")]
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == [1, 2]
    out = tu.tree_unflatten(treedef, [10, 20])
    assert out[0].a == 10 and out[0].b == {"k": 20} and out[0].tag == "t"
    assert treedef != tu.tree_structure([Box(1, {"k": 2}, "other")])
    assert treedef == tu.tree_structure([Box(5, {"k": 6}, "t")])
    assert repr(tu.tree_structure(Box(1, 2, "t"))) == "PyTreeDef(CustomNode(Box['t'], [*, *]))"
    paths = [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(tree)]
    assert paths == ["[0][0]", "[0][1]['k']"]
    assert isinstance(tu.tree_leaves_with_path(tree)[0][0][1], tu.FlattenedIndexKey)
    with pytest.raises(ValueError, match="[Dd]uplicate"):
        tu.register_pytree_node(Box, lambda x: ((), None), lambda aux, ch: Box(0, 0, None))


def test_register_builtin_type_again_fails():
    with pytest.raises(ValueError, match="already registered"):
        tu.register_pytree_node(list, lambda x: (x, None), lambda aux, ch: list(ch))
    with pytest.raises(TypeError):
        tu.register_pytree_node("not a type", lambda x: (x, None), lambda aux, ch: ch)


def test_register_pytree_with_keys():
    class Named:
        def __init__(self, w, b):
            self.w, self.b = w, b

    tu.register_pytree_with_keys(
        Named, lambda x: (((tu.GetAttrKey("w"), x.w), (tu.GetAttrKey("b"), x.b)), None),
        lambda aux, ch: Named(*ch))
    paths = [tu.keystr(p) for p, _ in tu.tree_leaves_with_path({"layer": Named(1, [2])})]
    assert paths == ["['layer'].w", "['layer'].b[0]"]
    assert tu.tree_leaves(Named(1, [2])) == [1, 2]
    out = tu.tree_map(lambda x: -x, Named(1, 2))
    assert (out.w, out.b) == (-1, -2)


def test_register_pytree_node_class():
    @tu.register_pytree_node_class
    class Scaled:
        def __init__(self, x, scale):
            self.x, self.scale = x, scale

        def tree_flatten(self):
            return (self.x,), self.scale

        @classmethod
        def tree_unflatten(cls, aux, children):
            return cls(children[0], aux)

    out = tu.tree_map(lambda v: v + 1, Scaled([1, 2], 3.0))
    assert isinstance(out, Scaled) and out.x == [2, 3] and out.scale == 3.0
    assert tu.tree_structure(Scaled(1, 2.0)) != tu.tree_structure(Scaled(1, 3.0))


def test_register_dataclass_explicit_fields():
    @dataclasses.dataclass
    class Layer:
        w: typing.Any
        b: typing.Any
        activation: str

    assert tu.register_dataclass(Layer, data_fields=["w", "b"],
                                 meta_fields=["activation"]) is Layer
    layer = Layer(1.0, [2.0], "relu")
    leaves, treedef = tu.tree_flatten(layer)
    assert leaves == [1.0, 2.0]
    assert tu.tree_unflatten(treedef, [3.0, 4.0]) == Layer(3.0, [4.0], "relu")
    assert treedef != tu.tree_structure(Layer(1.0, [2.0], "tanh"))
    paths = [tu.keystr(p) for p, _ in tu.tree_leaves_with_path({"params": {"dense_0": layer}})]
    assert paths == ["['params']['dense_0'].w", "['params']['dense_0'].b[0]"]
    assert repr(treedef) == "PyTreeDef(Layer(w=*, b=[*], activation='relu'))"


def test_register_dataclass_decorator_uses_static_metadata():
    @tu.register_dataclass
    @dataclasses.dataclass
    class Conv:
        kernel: typing.Any
        stride: int = dataclasses.field(default=1, metadata={"static": True})
        bias: typing.Any = None

    leaves, treedef = tu.tree_flatten(Conv(kernel=[1, 2], stride=2, bias=3))
    assert leaves == [1, 2, 3]
    out = tu.tree_unflatten(treedef, [4, 5, 6])
    assert out == Conv(kernel=[4, 5], stride=2, bias=6)
    assert treedef != tu.tree_structure(Conv(kernel=[1, 2], stride=1, bias=3))
    assert tu.tree_leaves(Conv(kernel=1)) == [1]  # bias=None is an empty subtree


def test_register_dataclass_decorator_with_arguments():
    @tu.register_dataclass(data_fields=["x"], meta_fields=["n"])
    @dataclasses.dataclass
    class Thing:
        x: typing.Any
        n: int

    assert tu.tree_leaves(Thing(x=[1, 2], n=3)) == [1, 2]


def test_register_dataclass_rejects_bad_fields():
    @dataclasses.dataclass
    class D:
        a: int
        b: int

    with pytest.raises(ValueError, match="missing \\['b'\\]"):
        tu.register_dataclass(D, data_fields=["a"], meta_fields=[])
    with pytest.raises(ValueError, match="unknown \\['c'\\]"):
        tu.register_dataclass(D, data_fields=["a", "b", "c"], meta_fields=[])
    with pytest.raises(ValueError, match="both data and meta"):
        tu.register_dataclass(D, data_fields=["a", "b"], meta_fields=["a"])

    class NotADataclass:
        pass

    with pytest.raises(TypeError, match="not a dataclass"):
        tu.register_dataclass(NotADataclass)


def test_unhashable_aux_data_fails_at_hash_time_naming_the_type():
    @dataclasses.dataclass
    class Holder:
        x: typing.Any
        config: typing.Any

    tu.register_dataclass(Holder, data_fields=["x"], meta_fields=["config"])
    treedef = tu.tree_structure([Holder(1, config=["unhashable", "list"])])
    assert treedef.num_leaves == 1  # flattening itself works
    with pytest.raises(TypeError, match="Holder"):
        hash(treedef)


def test_register_static():
    @tu.register_static
    class Mode:
        def __init__(self, name):
            self.name = name

        def __eq__(self, other):
            return isinstance(other, Mode) and other.name == self.name

        def __hash__(self):
            return hash(self.name)

    tree = {"x": 1, "mode": Mode("train")}
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == [1]
    out = tu.tree_unflatten(treedef, [2])
    assert out["mode"] == Mode("train") and out["x"] == 2
    assert treedef != tu.tree_structure({"x": 1, "mode": Mode("eval")})
    assert treedef == tu.tree_structure({"x": 5, "mode": Mode("train")})


# --------------------------------------------------------------------------------------------
# Reductions and predicates
# --------------------------------------------------------------------------------------------

def test_tree_reduce_and_tree_all():
    assert tu.tree_reduce(lambda a, b: a + b, {"x": 1, "y": [2, 3]}) == 6
    assert tu.tree_reduce(lambda a, b: a - b, [1, 2], initializer=10) == 7
    assert tu.tree_reduce(lambda a, b: a + b, [None], initializer=5) == 5
    with pytest.raises(TypeError):
        tu.tree_reduce(lambda a, b: a + b, [None])
    assert tu.tree_reduce(lambda a, b: a + [b], [(1, 2)], [],
                          is_leaf=lambda x: type(x) is tuple) == [(1, 2)]
    assert tu.tree_all({"a": True, "b": [1, 2]})
    assert not tu.tree_all({"a": True, "b": [1, 0]})
    assert tu.tree_all([None])


def test_all_leaves_and_treedef_is_leaf():
    assert tu.all_leaves([1, "a", 2.0])
    assert not tu.all_leaves([1, [2]])
    assert not tu.all_leaves([None])
    assert tu.all_leaves([(1, 2)], is_leaf=lambda x: type(x) is tuple)
    assert tu.treedef_is_leaf(tu.tree_structure(1))
    assert not tu.treedef_is_leaf(tu.tree_structure([1]))
    assert not tu.treedef_is_leaf(tu.tree_structure(()))


# --------------------------------------------------------------------------------------------
# tree_transpose
# --------------------------------------------------------------------------------------------

def test_tree_transpose():
    outer = tu.tree_structure([0, 0, 0])
    inner = tu.tree_structure({"a": 0, "b": (0, 0)})
    tree = [{"a": i, "b": (10 * i, 100 * i)} for i in (1, 2, 3)]
    out = tu.tree_transpose(outer, inner, tree)
    assert out == {"a": [1, 2, 3], "b": ([10, 20, 30], [100, 200, 300])}
    # transposing back restores the original
    assert tu.tree_transpose(inner, outer, out) == tree
    # inner structure can be inferred
    assert tu.tree_transpose(outer, None, tree) == out


def test_tree_transpose_empty_outer_and_mismatch():
    inner = tu.tree_structure((0, 0))
    assert tu.tree_transpose(tu.tree_structure(()), inner, ()) == ((), ())
    outer = tu.tree_structure([0, 0])
    with pytest.raises(ValueError, match="key path \\[1\\]"):
        tu.tree_transpose(outer, inner, [(1, 2), (3, 4, 5)])


# --------------------------------------------------------------------------------------------
# Partial
# --------------------------------------------------------------------------------------------

def _add3(a, b, c=0):
    return a + b + c


def test_partial_is_a_pytree_with_static_func():
    p = tu.Partial(_add3, 1, c=10)
    assert p(2) == 13
    leaves, treedef = tu.tree_flatten(p)
    assert leaves == [1, 10]
    doubled = tu.tree_unflatten(treedef, [2, 20])
    assert isinstance(doubled, tu.Partial) and doubled.func is _add3
    assert doubled(2) == 24
    assert tu.tree_map(lambda x: x * 3, p)(0) == 33
    assert treedef == tu.tree_structure(tu.Partial(_add3, 5, c=6))
    assert treedef != tu.tree_structure(tu.Partial(_add3, 5, c=6, b=1))
    assert treedef != tu.tree_structure(tu.Partial(max, 5, c=6))
    hash(treedef)
    assert [tu.keystr(k) for k, _ in tu.tree_leaves_with_path(p)] == [".args[0]",
                                                                      ".keywords['c']"]


def test_partial_nesting():
    inner = tu.Partial(_add3, 1)
    outer = tu.Partial(inner, 2)
    assert outer() == 3
    assert tu.tree_leaves(outer) == [1, 2]  # inner Partial's args stay children
    # a plain functools.partial keeps its bound arguments static
    plain = tu.Partial(functools.partial(_add3, 100), 2)
    assert plain() == 102
    assert tu.tree_leaves(plain) == [2]
    assert tu.tree_map(lambda x: x * 0, plain)() == 100


def test_partial_pickles():
    p = pickle.loads(pickle.dumps(tu.Partial(_add3, 1, c=2)))
    assert isinstance(p, tu.Partial) and p(3) == 6
