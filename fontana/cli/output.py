"""How commands print: human text by default, one JSON document with ``--json``."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from typing import Any

import click

from fontana.errors import FontanaError

JSON_META_KEY = "fontana.json"


def _remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    # ctx.meta is shared by the whole context chain, so the group's error
    # handler knows the failing subcommand asked for JSON.
    ctx.meta[JSON_META_KEY] = value
    return value


json_option = click.option(
    "--json", "as_json", is_flag=True, callback=_remember_json, help="Print JSON for machines."
)


_DIGITS_RE = re.compile(r"0*(?P<digits>[0-9]+)", re.ASCII)


class StrictInt(click.ParamType):
    """A whole number in ASCII digits within ``min..max``.

    click's own ``INT`` goes through ``int()``, which also takes ``1_000``,
    Arabic-Indic or full-width digits, and fails past 4300 digits.
    """

    name = "integer"

    def __init__(self, min: int, max: int) -> None:
        self.min, self.max = min, max

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and (m := _DIGITS_RE.fullmatch(value)):
            if len(m["digits"]) > len(str(self.max)):
                self.fail(f"{len(m['digits'])} digits is not in {self.min}..{self.max}", param, ctx)
            number = int(m["digits"])
        else:
            self.fail(f"{value!r:.40} is not a whole number in ASCII digits", param, ctx)
        if not self.min <= number <= self.max:
            self.fail(f"{number} is not in {self.min}..{self.max}", param, ctx)
        return number


def printable(text: str) -> str:
    """``text`` with lone surrogates escaped: a path or variable name holding bytes
    that are not UTF-8 must not crash the write to a strict UTF-8 terminal."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
    else:
        click.echo(printable(human(data) if human else str(data)))


def fail(exc: FontanaError, as_json: bool) -> None:
    """Report a typed error and exit with its code; nothing else is printed."""
    if as_json:
        click.echo(json.dumps({"error": exc.to_dict()}, indent=2))
    else:
        click.echo(printable(f"error[{exc.code}]: {exc.message}"), err=True)
    sys.exit(exc.exit_code)
