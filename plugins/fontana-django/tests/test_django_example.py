"""examples/django_provider runs as its README says: gunicorn serves, ``fontana call`` pays."""

from __future__ import annotations

from pathlib import Path

from fontana.testing.charging import run_readme_example

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "django_provider"


def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    result = run_readme_example(EXAMPLE, tmp_path, readme_port=8001)
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"city":"lisbon"' in result.stdout.replace(" ", "")
    assert '"words":3' in result.stdout.replace(" ", "")
