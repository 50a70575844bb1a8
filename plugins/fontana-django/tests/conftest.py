"""Django configured once for the in-process tests of this plugin (no database of its own)."""

from __future__ import annotations

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        SECRET_KEY="only for the tests",
        DEBUG=False,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=["fontana_django"],
        MIDDLEWARE=[],
        ROOT_URLCONF="django_unit_urls",
        DATABASES={},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates"}],
        FONTANA={},
    )
    django.setup()
