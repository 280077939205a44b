"""JSON for the start-up path: the standard library's own C scanner and encoder, without `json`.

`import json` compiles json.decoder's and json.scanner's regular expressions, which loads `re`,
which loads `enum`: ~25 M instructions, about a fifth of `rl run --rm` (docs/performance.md).
The C accelerator `_json` that `json` itself uses for loads and dumps needs none of that, so the
modules on the run path read and write records through here. Same results as `json`: anything the
fast path does not cover (indent, ensure_ascii=False, invalid input, bytes in another encoding)
goes to the `json` module, so its output, exceptions and messages are json's own.
"""

from __future__ import annotations

import _json

_WHITESPACE = " \t\n\r"


class _DecoderSettings:
    """The attributes _json.make_scanner reads from a json.JSONDecoder (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__
    memo: dict = {}


_scan = _json.make_scanner(_DecoderSettings())
_encoders: dict = {}


def _json_module():
    import json

    return json


def loads(text: str | bytes | bytearray):
    """json.loads for str or UTF-8 bytes."""
    if not isinstance(text, str):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError:
            return _json_module().loads(text)
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        return _json_module().loads(text)  # raises json's JSONDecodeError
    if end != len(text) and text[end:].strip(_WHITESPACE):
        return _json_module().loads(text)  # "Extra data"
    return value


def load(file):
    return loads(file.read())


def _unserializable(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def dumps(value, *, separators: tuple[str, str] | None = None, sort_keys: bool = False,
          indent=None, ensure_ascii: bool = True) -> str:
    """json.dumps (same defaults); indent or ensure_ascii=False are json's business."""
    if indent is not None or not ensure_ascii:
        return _json_module().dumps(value, separators=separators, sort_keys=sort_keys, indent=indent,
                                    ensure_ascii=ensure_ascii)
    item_sep, key_sep = separators or (", ", ": ")
    key = (item_sep, key_sep, sort_keys)
    encode = _encoders.get(key)
    if encode is None:
        encode = _encoders[key] = _json.make_encoder(
            {}, _unserializable, _json.encode_basestring_ascii, None, key_sep, item_sep, sort_keys, False, True)
    try:
        return "".join(encode(value, 0))
    except ValueError:  # a circular reference: json's message
        return _json_module().dumps(value, separators=separators, sort_keys=sort_keys)
