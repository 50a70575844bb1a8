"""Settings of the test project: no database of Django's own; Fontana from ``FONTANA_*``."""

SECRET_KEY = "only for the tests"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
INSTALLED_APPS = ["fontana_django"]
MIDDLEWARE = [
    "django_paid_project.views.worker_pid",
    "django.middleware.csrf.CsrfViewMiddleware",
]
ROOT_URLCONF = "django_paid_project.urls"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
#: Every Fontana setting comes from the FONTANA_* environment the tests set.
FONTANA: dict[str, str] = {}
