"""Every hook a Fontana plugin can implement: the plugin author's reference.

A plugin is a module (or object) registered under the ``fontana`` entry-point
group whose functions carry :data:`hookimpl`::

    # setup.cfg of fontana-mystore
    [options.entry_points]
    fontana =
        mystore = fontana_mystore.plugin

    # fontana_mystore/plugin.py
    from fontana.hookspecs import hookimpl

    @hookimpl
    def fontana_register_storage_backends(register):
        register("mystore", open_mystore, schemes=("mystore",))

    def open_mystore(url, settings):
        from fontana_mystore.backend import MyStorage  # heavy imports here, not above
        return MyStorage(url)

Rules that keep a stack healthy:

* A plugin module is imported by every ``fontana`` command, so import only
  what is cheap at module level; import drivers inside the factory, which
  runs only when the user's config chooses that backend.
* Backend hooks call ``register`` instead of returning values, so Fontana
  knows which plugin provided which backend and can list them all.
* An implementation may accept fewer arguments than the spec names;
  specs may gain arguments in later versions without breaking plugins.
* A plugin that fails to import or raises inside a hook is reported by
  ``fontana plugins`` and skipped, and what it registered in that call is
  dropped; ``FONTANA_STRICT_PLUGINS=1`` re-raises.

Built-in defaults (SQLite storage and the rest) are ordinary plugins of the
``fontana`` distribution, registered through the same entry points; they
always load, whatever ``FONTANA_PLUGINS`` and ``FONTANA_DISABLE_PLUGINS`` say.

Hooks are called through pluggy, in its order: ``tryfirst`` implementations,
then the built-ins, then other plugins by (distribution, entry-point name), then
``trylast`` ones (``docs/plugins.md`` has the details); ``@hookimpl(wrapper=True)``
generators run around them all.
A name (backend, URL scheme, command, config section) goes to the first claim
in that order; later claims are refused and listed as conflicts by
``fontana plugins``. So a plugin replaces a built-in backend by registering
its name with ``@hookimpl(tryfirst=True)``. See ``docs/plugins.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from fontana.interfaces import (
        BridgeValidatorFactory,
        ChargingAdapterFactory,
        DAFactory,
        L1WatcherFactory,
        ProofProviderFactory,
        RegisterBackend,
        RegisterSettings,
        StorageFactory,
        TxEngineFactory,
    )

PROJECT = "fontana"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def fontana_register_storage_backends(register: RegisterBackend[StorageFactory]) -> None:
    """Declare ledger storage backends.

    Call ``register(name, factory, schemes=(...), description=...)`` once per
    backend. ``storage.url`` in the config selects one: a URL whose scheme is
    in ``schemes`` (``sqlite:///ledger.db``, ``postgresql://...``; a
    ``scheme+driver`` form matches its ``scheme`` too), or a bare ``name``.
    ``factory(url, settings)`` returns an object satisfying
    :class:`fontana.storage.base.Storage`; it must pass the conformance suite
    in :mod:`fontana.testing.storage`.

    :param register: callback taking ``name``, ``factory``, and keyword-only
        ``schemes`` and ``description`` (a :class:`fontana.plugins.BackendRegistrar`,
        whose ``specs`` and ``replace`` serve wrappers).

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_da_backends(register: RegisterBackend[DAFactory]) -> None:
    """Declare data-availability layers that blocks are posted to.

    ``da.url`` in the config selects one by scheme or name (``local:///dir``,
    ``celestia+ws://host:26658``). ``factory(url, settings, namespace)``
    returns a :class:`fontana.interfaces.DALayer` bound to ``namespace`` (the
    chain's 10 namespace bytes from its genesis).

    :param register: callback taking ``name``, ``factory``, and keyword-only
        ``schemes`` and ``description`` (a :class:`fontana.plugins.BackendRegistrar`,
        whose ``specs`` and ``replace`` serve wrappers).

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_l1_watchers(register: RegisterBackend[L1WatcherFactory]) -> None:
    """Declare L1 watchers that turn vault events into deposits and confirmations.

    ``l1.url`` selects one by scheme or name (``local://``, ``evm+http://...``).
    ``factory(url, settings)`` returns a :class:`fontana.interfaces.L1Watcher`;
    ``settings.l1.confirmations`` is resolved (the genesis value when unset).
    ``fontana watcher`` keeps the cursor and calls the bridge handlers, so a
    watcher only reads the L1 (docs/plugins.md).

    :param register: callback taking ``name``, ``factory``, and keyword-only
        ``schemes`` and ``description`` (a :class:`fontana.plugins.BackendRegistrar`,
        whose ``specs`` and ``replace`` serve wrappers).

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_proof_providers(register: RegisterBackend[ProofProviderFactory]) -> None:
    """Declare state-commitment trees (the sparse Merkle tree and its replacements).

    ``proofs.provider`` selects one by name. ``factory(settings)`` returns a
    :class:`fontana.interfaces.ProofProvider` whose roots and proofs
    must be byte-identical to the reference tree's (see ``docs/protocol.md``);
    a native implementation can thus replace the Python one transparently.

    :param register: callback taking ``name``, ``factory``, and keyword-only
        ``schemes`` (unused, pass nothing) and ``description`` (a
        :class:`fontana.plugins.BackendRegistrar`).

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_charging_adapters(register: RegisterBackend[ChargingAdapterFactory]) -> None:
    """Declare web-framework integrations of the paid-call flow (``@charge``).

    ``factory(settings)`` returns a :class:`fontana.interfaces.ChargingAdapter`
    whose ``charge(utia=...)`` or ``charge(price=fn)`` decorates a view, and
    which may offer ``example_app(charger)``; ``name`` is the framework
    (``wsgi`` is built in; ``flask``, ``django`` are plugins). The adapter
    turns each request into a :class:`fontana.payments.charger.PaidRequest`
    and lets :meth:`fontana.payments.charger.Charger.charge` run the view, so
    every framework follows the same flow (docs/payments.md). Import the
    framework inside the factory, not at module level.

    :param register: callback taking ``name``, ``factory``, and keyword-only
        ``schemes`` (unused) and ``description`` (a
        :class:`fontana.plugins.BackendRegistrar`).

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_tx_engines(register: RegisterBackend[TxEngineFactory]) -> None:
    """Declare transaction engines: decoding, txids and signature checks of users' payments.

    ``tx.engine`` selects one by name; ``auto`` (the default) takes ``native-tx`` when
    a plugin registered it, else the built-in ``python-tx``. ``factory(settings)``
    returns a :class:`fontana.interfaces.TxEngine`, which the ledger's payment path and
    recovery call. Its verdicts, values and errors must equal the Python reference's on
    every input (a node on another engine must never judge a block differently); it
    must pass the conformance suite in :mod:`fontana.testing.txengine`.

    :param register: callback taking ``name``, ``factory``, and keyword-only
        ``schemes`` (unused, pass nothing) and ``description`` (a
        :class:`fontana.plugins.BackendRegistrar`).

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_bridge_validators(register: RegisterBackend[BridgeValidatorFactory]) -> None:
    """Declare bridge validators: who holds the checkpoint keys and signs for the vault.

    ``bridge.validator`` selects one by name; ``auto`` (the default) takes
    ``native-validator`` when a plugin registered it, else the built-in
    ``python-validator``. ``factory(settings)`` returns a
    :class:`fontana.interfaces.BridgeValidator` holding the keys ``[bridge]`` names;
    its ``sign`` checks the block and the withdrawals' proofs before it signs, and its
    signatures must be byte-identical to ``fontana.bridge.checkpoint``'s (RFC 6979,
    low s), so the vault accepts either.

    :param register: callback taking ``name``, ``factory``, and keyword-only
        ``schemes`` (unused, pass nothing) and ``description`` (a
        :class:`fontana.plugins.BackendRegistrar`).

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_settings(register: RegisterSettings) -> None:
    """Declare a plugin's own configuration section.

    Call ``register(section, settings_class)`` with an ``attrs`` class whose
    fields all have defaults, and a section name of lower-case letters, digits
    and ``_``; a core section's name, or one a plugin called earlier took, is
    refused and reported by ``fontana plugins``. Import the class inside this
    hook: it runs only when settings are loaded. The section is read from ``[section]`` in
    ``fontana.toml``, from ``.env`` and from ``FONTANA_<SECTION>_<FIELD>``
    environment variables, validated like the core settings, shown by
    ``fontana config show``, and handed to the plugin as
    ``settings.section(section)``. Mark secrets with
    ``attrs.field(metadata={"secret": True})`` so they are masked.

    :param register: callback taking the section name and the attrs class.

    .. versionadded:: 0.1
    """


@hookspec
def fontana_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``fontana`` command line.

    Decorate functions with ``@cli.command()`` (or ``@cli.group()``, or call
    ``cli.add_command``); keep heavy imports inside them. A command reads the
    settings with :func:`fontana.config.load_settings`. A name a core command
    (``balance``, ``transfer``, ...) or a plugin called earlier already has is
    refused, and ``fontana plugins`` reports it: the core command stays.

    :param cli: a click group that collects your commands for the top-level
        ``fontana`` group.

    .. versionadded:: 0.1
    """
