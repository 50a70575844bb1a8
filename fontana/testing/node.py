"""A real node API for tests: ``fontana serve`` in its own process, on a free loopback port.

The server opens the ledger the environment names (``FONTANA_STORAGE_URL``,
``FONTANA_HOME``), prints one JSON line once it listens, and is stopped with
SIGTERM; a test shares the database with it to seal blocks or check state.
Also a small JSON Schema checker, enough for the node's OpenAPI document.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs

from fontana.testing.processes import ServerProcess


@attrs.frozen
class NodeProcess:
    url: str
    server: ServerProcess


@contextmanager
def serve_node(env: Mapping[str, str], *args: str, timeout: float = 60) -> Iterator[NodeProcess]:
    """``fontana serve --port 0 --json`` under ``env``; stopped (and checked) on exit."""
    server = ServerProcess(
        [sys.executable, "-m", "fontana", "serve", "--port", "0", "--json", *args], env
    )
    if not server.first_line:
        code, stderr = server.stop(timeout)
        raise AssertionError(f"fontana serve exited {code}: {stderr}")
    try:
        yield NodeProcess(json.loads(server.first_line)["url"], server)
    finally:
        code, stderr = server.stop(timeout)
    assert code == 0, f"fontana serve exited {code}: {stderr}"
    assert "Traceback" not in stderr, stderr


class SchemaError(AssertionError):
    pass


def check_schema(
    value: Any, schema: Mapping[str, Any], document: Mapping[str, Any], at: str = "$"
) -> None:
    """Raise :class:`SchemaError` unless ``value`` fits ``schema``.

    The subset of JSON Schema the node's document uses: ``$ref`` (local),
    ``type``, ``enum``, ``const``, ``oneOf``, ``properties``, ``required``,
    ``additionalProperties: false``, ``items``, ``pattern``, ``minimum``,
    ``maximum``. Any other keyword is an error, so the document cannot drift
    beyond what this checks.
    """
    known = {
        "$ref",
        "type",
        "enum",
        "oneOf",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "pattern",
        "minimum",
        "maximum",
        "description",
        "const",
    }
    unknown = set(schema) - known
    if unknown:
        raise SchemaError(f"{at}: schema keywords {sorted(unknown)} are not checked")
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        check_schema(value, document["components"]["schemas"][name], document, at)
        return
    if "oneOf" in schema:
        fits = 0
        for option in schema["oneOf"]:
            try:
                check_schema(value, option, document, at)
                fits += 1
            except SchemaError:
                pass
        if fits != 1:
            raise SchemaError(f"{at}: {value!r:.80} fits {fits} of the oneOf options, not 1")
    types = {
        "object": dict,
        "array": list,
        "string": str,
        "boolean": bool,
        "null": type(None),
    }
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"{at}: {value!r:.80} is not an integer")
    elif kind is not None and not isinstance(value, types[kind]):
        raise SchemaError(f"{at}: {value!r:.80} is not of type {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{at}: {value!r:.80} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        raise SchemaError(f"{at}: {value!r:.80} is not {schema['const']!r}")
    if "pattern" in schema and not re.search(schema["pattern"], value):
        raise SchemaError(f"{at}: {value!r:.80} does not match {schema['pattern']}")
    if "minimum" in schema and value < schema["minimum"]:
        raise SchemaError(f"{at}: {value} < {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        raise SchemaError(f"{at}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        missing = [k for k in schema.get("required", ()) if k not in value]
        if missing:
            raise SchemaError(f"{at}: missing keys {missing}")
        if schema.get("additionalProperties") is False and set(value) - set(properties):
            raise SchemaError(f"{at}: undocumented keys {sorted(set(value) - set(properties))}")
        for key, sub in properties.items():
            if key in value:
                check_schema(value[key], sub, document, f"{at}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], document, f"{at}[{i}]")
