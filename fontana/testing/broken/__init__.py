"""Deliberately broken backends, one fault each, that the conformance suites must catch.

They are small subclasses of the real backends (``LocalDA``, ``SQLiteStorage``,
``PythonSMTProvider``, ``LedgerBackend``) and, for charging adapters, of the
``Charger`` and ``WSGIAdapter`` the built-in adapter is made of. Fontana's own
tests run every suite against every one of them and require at least one
failure; a plugin author can read them as a list of the mistakes the suites
look for.
"""
