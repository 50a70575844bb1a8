"""A paid weather API on Django (see README.md to run it)."""
