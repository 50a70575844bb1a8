"""Strict JSON for input someone else wrote: one decoder, one set of refusals.

The standard library's ``json.loads`` takes a duplicate key (the last one wins,
so two readers of the same text can disagree), ``NaN`` and ``Infinity``, and
integers of any length (Python's ``int()`` then fails on 4300 digits). Every
reader of hostile JSON (a request body, a node's answer, a genesis file, a
receipt file) calls :func:`loads` instead, and gets one typed error whatever
is wrong with the text.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fontana.errors import EncodingError

#: A JSON number longer than this is no u64 (20 digits) whatever its form; longer
#: ones are refused before Python's int() meets its 4300-digit limit.
MAX_NUMBER_LEN: Final = 64


class _Refused(ValueError):
    """JSON the decoder itself refuses: duplicate keys, NaN, fractions, huge numbers."""


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"duplicate key {key!r:.40}")
        out[key] = value
    return out


def _bounded_int(text: str) -> int:
    if len(text) > MAX_NUMBER_LEN:
        raise _Refused(f"a number of {len(text)} digits")
    return int(text)


def _no_float(text: str) -> Any:
    raise _Refused(f"{text[:40]!r} is not an integer (amounts and heights are whole numbers)")


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def depth(value: Any, limit: int) -> int:
    """Nesting depth of objects and arrays (counted up to just past ``limit``), no recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def loads(
    data: bytes | str,
    what: str,
    *,
    integers_only: bool = False,
    max_depth: int | None = None,
) -> Any:
    """The value of ``data``: UTF-8, no duplicate keys, no NaN, numbers of at most 64
    characters; with ``integers_only`` no fractions or exponents, with ``max_depth``
    no deeper nesting. Anything else is an ``EncodingError`` naming ``what``."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EncodingError(f"{what}: not valid UTF-8 (byte {exc.start})") from None
    too_deep = (
        f"{what}: JSON nested too deeply"
        if max_depth is None
        else f"{what}: JSON nested deeper than {max_depth} levels"
    )
    try:
        value = json.loads(
            data,
            object_pairs_hook=_unique_object,
            parse_int=_bounded_int,
            parse_float=_no_float if integers_only else float,
            parse_constant=_no_constant,
        )
    except _Refused as exc:
        raise EncodingError(f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise EncodingError(f"{what}: not valid JSON: {exc.msg} at {exc.pos}") from None
    except RecursionError:  # far deeper than any limit
        raise EncodingError(too_deep) from None
    if max_depth is not None and depth(value, max_depth) > max_depth:
        raise EncodingError(too_deep)
    return value
