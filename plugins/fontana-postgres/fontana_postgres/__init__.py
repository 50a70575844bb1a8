"""PostgreSQL storage backend for Fontana."""

__version__ = "0.1.0"
