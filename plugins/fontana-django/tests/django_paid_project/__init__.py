"""The Django project the real-server tests run under gunicorn."""
