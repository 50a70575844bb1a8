"""Test helpers for Fontana and its plugins: fixtures, conformance suites, real servers.

Installed as a pytest plugin (entry point ``pytest11``), so a plugin's own
test suite gets the fixtures of :mod:`fontana.testing.pytest_plugin` without
importing anything. The conformance suites are :mod:`~fontana.testing.storage`,
:mod:`~fontana.testing.da`, :mod:`~fontana.testing.proofs`,
:mod:`~fontana.testing.payments` (payment backends) and
:mod:`~fontana.testing.charging` (charging adapters, on real servers);
:mod:`fontana.testing.broken` holds the faulty implementations each suite must catch.
"""
