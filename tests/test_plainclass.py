"""rootless.plainclass: the dataclasses subset rl's records use, checked against dataclasses."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, strategies as st

from rootless import plainclass as pc


@pc.dataclass(frozen=True)
class Point:
    x: int
    y: int = 0
    tags: tuple = ()
    note: str = pc.field(default="", compare=False)


@pc.dataclass
class Bag:
    items: list = pc.field(default_factory=list)
    name: str = "bag"

    def __post_init__(self):
        self.items.append("made")


@pc.dataclass(frozen=True)
class Point3(Point):
    z: int = 0


def test_positional_keyword_and_defaults():
    assert Point(1) == Point(x=1, y=0)
    assert (Point(1, 2).x, Point(1, 2).y, Point(1, y=2).y) == (1, 2, 2)
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=(), note='')"


def test_missing_extra_and_duplicate_arguments_are_type_errors():
    for call in (lambda: Point(), lambda: Point(1, 2, (), "", 5), lambda: Point(1, x=2), lambda: Point(1, w=3)):
        with pytest.raises(TypeError):
            call()


def test_frozen_instances_refuse_assignment_and_hash_by_compared_fields():
    p = Point(1, 2, note="a")
    with pytest.raises(pc.FrozenInstanceError):
        p.x = 5
    with pytest.raises(AttributeError):
        del p.y
    assert p == Point(1, 2, note="b") and hash(p) == hash(Point(1, 2, note="b"))
    assert p != Point(1, 3) and p != (1, 2)


def test_mutable_records_are_unhashable_and_get_fresh_defaults():
    a, b = Bag(), Bag()
    assert a.items == ["made"] and a.items is not b.items
    a.name = "x"
    assert a.name == "x"
    with pytest.raises(TypeError):
        hash(a)


def test_inheritance_puts_the_bases_fields_first():
    assert Point3(1, 2, (), "", 3).z == 3
    assert [f.name for f in Point3.__record_fields__] == ["x", "y", "tags", "note", "z"]


def test_replace_copies_with_changes_and_refuses_unknown_fields():
    p = Point(1, 2)
    assert pc.replace(p, y=5) == Point(1, 5) and p.y == 2
    with pytest.raises(TypeError):
        pc.replace(p, w=1)


@dataclasses.dataclass(frozen=True)
class RefPoint:
    x: int
    y: int = 0
    tags: tuple = ()
    note: str = dataclasses.field(default="", compare=False)


values = st.one_of(st.integers(), st.text(max_size=5), st.tuples(st.integers()))


@given(values, values, values, values, values, values)
def test_equality_and_hash_agree_with_dataclasses(x1, y1, n1, x2, y2, n2):
    ours = Point(x1, y1, note=str(n1)) == Point(x2, y2, note=str(n2))
    theirs = RefPoint(x1, y1, note=str(n1)) == RefPoint(x2, y2, note=str(n2))
    assert ours == theirs
    if ours:
        assert hash(Point(x1, y1)) == hash(Point(x2, y2))
