"""rootless.fastjson gives json's results (the same C code, without json's Python layer)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, strategies as st

from rootless import fastjson

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text())
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                         max_leaves=20)


@given(documents)
def test_dumps_is_json_dumps(doc):
    assert fastjson.dumps(doc) == json.dumps(doc)
    assert fastjson.dumps(doc, separators=(",", ":"), sort_keys=True) == \
        json.dumps(doc, separators=(",", ":"), sort_keys=True)


@given(documents, st.sampled_from(["", " ", "\n", " \t\r\n"]))
def test_loads_is_json_loads(doc, space):
    text = space + json.dumps(doc) + space
    assert fastjson.loads(text) == json.loads(text)
    assert fastjson.loads(text.encode()) == json.loads(text)


@given(st.text(max_size=30))
def test_any_text_loads_like_json_or_raises_its_error(text):
    try:
        expected = json.loads(text)
    except ValueError as e:
        with pytest.raises(type(e)):
            fastjson.loads(text)
    else:
        got = fastjson.loads(text)
        assert got == expected or (isinstance(got, float) and math.isnan(got))


@pytest.mark.parametrize("text", ['{"a": 1} x', '{"a": ', "", "[1,]", "NaN", "\ufeff{}"])
def test_errors_are_jsons(text):
    try:
        json.loads(text)
    except ValueError as e:
        with pytest.raises(type(e)) as ours:
            fastjson.loads(text)
        assert str(ours.value) == str(e)
    else:
        assert fastjson.loads(text) == json.loads(text) or text == "NaN"


def test_what_json_cannot_encode_raises_the_same():
    with pytest.raises(TypeError, match="not JSON serializable"):
        fastjson.dumps({"a": object()})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError):
        fastjson.dumps(loop)
    assert fastjson.dumps({"b": 1, "a": [1]}, indent=1, sort_keys=True) == json.dumps({"b": 1, "a": [1]}, indent=1, sort_keys=True)
