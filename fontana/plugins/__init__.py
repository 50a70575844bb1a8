"""Loading plugins from entry points, calling their hooks, and backend registries.

Every plugin, built-in or third-party, comes from the ``fontana`` entry-point
group. Hooks are called through pluggy's own hook caller, so ``tryfirst``,
``trylast`` and ``wrapper=True`` behave as pluggy documents. A plugin that
cannot be imported, implements an unknown hook, or raises inside a hook is
recorded with its error and skipped (its registrations from that call are
discarded), so one bad install never takes down ``fontana --help``
(``FONTANA_STRICT_PLUGINS=1`` turns those into exceptions, for development and CI).

Names plugins claim (entry-point names, backend names and URL schemes per
family, commands, config sections) never clash silently: the first claim in
pluggy's call order wins and every loser is recorded as a conflict on its
plugin's record (see "Call order and conflicts" in ``docs/plugins.md``).

Environment variables (they filter third-party plugins; built-ins always load):

* ``FONTANA_PLUGINS=a,b``: load only these (entry-point or distribution names).
* ``FONTANA_DISABLE_PLUGINS=a,b``: load all but these.
* ``FONTANA_STRICT_PLUGINS=1``: re-raise plugin errors.
"""

from fontana.plugins.claims import BackendRegistrar
from fontana.plugins.host import (
    ENTRY_POINT_GROUP,
    FAMILIES,
    PluginHost,
    get_host,
    reset_host,
    strict_mode,
)
from fontana.plugins.records import (
    BackendInfo,
    BackendRegistry,
    BackendSpec,
    Conflict,
    PluginRecord,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "FAMILIES",
    "BackendInfo",
    "BackendRegistrar",
    "BackendRegistry",
    "BackendSpec",
    "Conflict",
    "PluginHost",
    "PluginRecord",
    "get_host",
    "reset_host",
    "strict_mode",
]
