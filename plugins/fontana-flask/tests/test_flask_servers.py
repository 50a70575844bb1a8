"""Paid Flask calls through gunicorn (several workers, two servers) on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from fontana.testing.charging import ChargingAdapterSuite


class TestFlaskOnGunicorn(ChargingAdapterSuite):
    app_module = "flask_paid_app:app"
    app_dir = Path(__file__).parent
