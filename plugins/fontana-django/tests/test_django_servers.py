"""Paid Django calls through gunicorn (several workers, two servers) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from fontana.testing.charging import ChargingAdapterSuite


class TestDjangoOnGunicorn(ChargingAdapterSuite):
    app_module = "django_paid_project.wsgi:application"
    app_dir = Path(__file__).parent
    app_env: ClassVar[Mapping[str, str]] = {
        "DJANGO_SETTINGS_MODULE": "django_paid_project.settings"
    }
