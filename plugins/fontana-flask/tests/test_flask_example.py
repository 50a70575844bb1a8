"""examples/flask_provider runs as its README says: gunicorn serves, ``fontana call`` pays."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from fontana_flask import Fontana

from fontana.testing.charging import isolate, make_chain, run_readme_example, server_env

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flask_provider"


def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    result = run_readme_example(EXAMPLE, tmp_path, readme_port=8000)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"city":"lisbon"' in result.stdout.replace(" ", "")
    assert '"words":3' in result.stdout.replace(" ", "")


def test_an_unpaid_body_past_the_bound_is_413_before_its_price_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/summary`` is priced by its body, read before any payment: the app bounds it."""
    isolate(monkeypatch, tmp_path)
    chain = make_chain(f"sqlite:///{tmp_path}/ledger.db", tmp_path / "home")
    try:
        for name, value in server_env(chain, {}).items():
            monkeypatch.setenv(name, value)
        app = runpy.run_path(str(EXAMPLE / "app.py"))["app"]
        client = app.test_client()
        try:
            small = client.post("/summary", data=b"three short words")
            assert small.status_code == 402
            assert small.get_json()["accepts"][0]["amount"] == str(100 + 17)
            huge = client.post("/summary", data=b"x" * (64 * 1024 + 1))
            assert huge.status_code == 413
        finally:
            Fontana.close(app)
    finally:
        chain.ledger.storage.close()
