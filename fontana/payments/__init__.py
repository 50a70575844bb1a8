"""Paid API calls: the x402 envelope, the framework-neutral charger and its backends.

``docs/payments.md`` is the specification. Framework adapters (the built-in
``wsgi`` one in :mod:`fontana.payments.wsgi`, Flask and Django as plugins)
turn a request into a :class:`~fontana.payments.charger.PaidRequest` and let
:class:`~fontana.payments.charger.Charger` run the flow around their view.
"""
