"""Settings of the example provider: no database of Django's own, Fontana's app installed."""

import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-only-set-DJANGO_SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["fontana_django"]
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "provider.urls"
WSGI_APPLICATION = "provider.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}

#: Fontana's settings by their variable names without FONTANA_; the rest come
#: from FONTANA_* variables, .env and fontana.toml as for the fontana command.
FONTANA = {"CHARGE_KEY_NAME": os.environ.get("PROVIDER_KEY", "provider")}
