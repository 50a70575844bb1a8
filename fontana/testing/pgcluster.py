"""Throwaway PostgreSQL clusters for tests and benches.

Storage code must be tested against a real server, not a stand-in, and plugin authors need
the same harness without copying it, so it ships in `fontana.testing`. Imports stay light
(stdlib only; psycopg and pytest load lazily or optionally) so a bench can start a cluster
without the test stack installed.

Typical use from a `conftest.py` or a pytest plugin::

    from fontana.testing.pgcluster import pg_cluster, pg_url  # noqa: F401

Outside pytest::

    with PgCluster() as pg:
        url = pg.create_database("bench")
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from fontana.local_server import HOST, LocalServer, free_port
from fontana.testing.requirements import require_external

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "EXTERNAL_URL_ENV",
    "PG_BIN_ENV",
    "PgCluster",
    "PgClusterError",
    "PgServer",
    "external_url",
    "find_pg_bin",
    "libpq_url",
    "pg_cluster",
    "pg_url",
    "require_external",
    "sqlalchemy_url",
    "unique_database_name",
]

PG_BIN_ENV = "FONTANA_PG_BIN"
EXTERNAL_URL_ENV = "FONTANA_TEST_POSTGRES_URL"
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
SERVER_USER = "postgres"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Postmaster log lines that mean "someone took the port between our probe and the bind".
_PORT_TAKEN = ("could not bind", "address already in use", "could not create any tcp/ip")


class PgClusterError(RuntimeError):
    """A throwaway cluster could not be created, started or stopped."""


# --------------------------------------------------------------------------- discovery


def _has_binaries(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in REQUIRED_BINARIES)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in bin_dir.parent.name.split("."))
    except ValueError:
        return (-1,)


def find_pg_bin() -> Path | None:
    """Directory holding initdb, pg_ctl and postgres, or None when none is installed.

    Order: `$FONTANA_PG_BIN`, `pg_config --bindir`, newest `/usr/lib/postgresql/*/bin`.
    A set but wrong `$FONTANA_PG_BIN` raises rather than silently testing another version.
    """
    explicit = os.environ.get(PG_BIN_ENV, "").strip()
    if explicit:
        path = Path(explicit)
        if not _has_binaries(path):
            raise PgClusterError(f"${PG_BIN_ENV}={explicit} lacks one of {REQUIRED_BINARIES}")
        return path
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        # Debian's libpq-dev pg_config may name a client-only directory: check, then go on.
        if out and _has_binaries(Path(out)):
            return Path(out)
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if _has_binaries(p)]
    return max(candidates, key=_version_key) if candidates else None


def external_url() -> str | None:
    """URL of a server someone else runs (CI may share one cluster), from the environment."""
    return os.environ.get(EXTERNAL_URL_ENV, "").strip() or None


# --------------------------------------------------------------------------- URLs


def sqlalchemy_url(url: str) -> str:
    """`url` with the psycopg 3 driver named, since SQLAlchemy defaults to psycopg2."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        parts = parts._replace(scheme="postgresql+psycopg")
    return urlunsplit(parts)


def libpq_url(url: str) -> str:
    """`url` as libpq/psycopg accept it: no SQLAlchemy `+driver` suffix."""
    parts = urlsplit(url)
    if parts.scheme.split("+", 1)[0] in ("postgres", "postgresql"):
        parts = parts._replace(scheme="postgresql")
    return urlunsplit(parts)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def _check_name(name: str) -> str:
    # A plain lower-case identifier needs no quoting in SQL nor escaping in a URL path.
    if not _DB_NAME.match(name):
        raise ValueError(f"database name must match {_DB_NAME.pattern}: {name!r}")
    return name


def unique_database_name(hint: str = "") -> str:
    """A fresh database name that still says which test made it, for reading pg logs."""
    slug = re.sub(r"[^a-z0-9]+", "_", hint.lower()).strip("_")[:40]
    return f"t_{slug}_{uuid.uuid4().hex[:12]}" if slug else f"t_{uuid.uuid4().hex[:16]}"


# --------------------------------------------------------------------------- servers


class PgServer:
    """A reachable server on which tests may create and drop databases.

    Both a cluster we start and one that CI shares through `$FONTANA_TEST_POSTGRES_URL`
    are used through this one interface, so fixtures do not care which they got.
    """

    def __init__(self, url: str | None = None) -> None:
        self._url = sqlalchemy_url(url) if url else None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the maintenance database (`postgres`)."""
        if self._url is None:
            raise PgClusterError("server is not running")
        return self._url

    def database_url(self, name: str) -> str:
        """SQLAlchemy URL of database `name` on this server."""
        return _with_database(self.url, _check_name(name))

    def connect(self, dbname: str | None = None, *, autocommit: bool = True) -> psycopg.Connection:
        """A psycopg connection; autocommit by default since CREATE DATABASE demands it."""
        import psycopg  # lazy: only callers that talk SQL need the driver

        url = self.url if dbname is None else self.database_url(dbname)
        return psycopg.connect(libpq_url(url), autocommit=autocommit)

    def create_database(self, name: str) -> str:
        """Create database `name` and return its SQLAlchemy URL."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(_check_name(name))))
        return self.database_url(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name` if it exists, first ending sessions a test left open."""
        from psycopg import sql

        ident = sql.Identifier(_check_name(name))
        with self.connect() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            # FORCE (PostgreSQL 13+) closes the race with a client that reconnects meanwhile.
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(ident, force))


class PgCluster(PgServer, LocalServer):
    """A private PostgreSQL cluster in a temp dir, on a free loopback port; a context manager.

    Durability is off (`--no-sync`, `-F`): the data dies with the test anyway, and fsync
    would dominate test time. ``fsync=True`` keeps commits durable, for benchmarks that
    compare with the cost of a real commit. As root, initdb refuses to run, so every server
    command goes through `runuser -u postgres --` and the temp dir belongs to that user.
    """

    def __init__(
        self,
        bin_dir: Path | str | None = None,
        *,
        base_dir: Path | str | None = None,
        max_connections: int = 200,
        start_attempts: int = 5,
        timeout: float = 60.0,
        fsync: bool = False,
    ) -> None:
        super().__init__()
        self._bin_arg = Path(bin_dir) if bin_dir is not None else None
        self._base_dir = Path(base_dir) if base_dir is not None else None
        self._max_connections = max_connections
        self._start_attempts = start_attempts
        self._timeout = timeout
        self._fsync = fsync
        self._bin: Path | None = None
        self._dir: Path | None = None
        self._port: int | None = None
        self._running = False

    # -- properties

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        if self._port is None or not self._running:
            raise PgClusterError("cluster is not running")
        return self._port

    @property
    def directory(self) -> Path:
        """Temp dir holding `data/`, `pg.log` and the unix socket."""
        if self._dir is None:
            raise PgClusterError("cluster is not started")
        return self._dir

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "pg.log"


    # -- lifecycle


    def start(self) -> PgCluster:
        """initdb a fresh cluster and start it; on failure nothing is left behind."""
        if self._dir is not None:
            raise PgClusterError("cluster already started")
        bin_dir = self._bin_arg or find_pg_bin()
        if bin_dir is None or not _has_binaries(bin_dir):
            raise PgClusterError(f"no PostgreSQL server binaries ({REQUIRED_BINARIES}) found")
        self._bin = bin_dir
        self._dir = Path(tempfile.mkdtemp(prefix="fontana-pg-", dir=self._base_dir))
        # Registered before anything can fail, so an interrupted test run kills its server.
        atexit.register(self.stop)
        try:
            if os.geteuid() == 0:
                self._hand_dir_to_server_user()
            self._run(
                "initdb",
                [
                    "-D", str(self.data_dir), "-U", SERVER_USER, "-A", "trust", "-E", "UTF8",
                    # C locale: the host's locale may not exist for the postgres user.
                    "--locale=C", "--no-sync",
                ],
            )  # fmt: skip
            self._start_server()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown, then remove the temp dir. Safe to call twice."""
        if self._dir is None:
            return
        atexit.unregister(self.stop)
        error: PgClusterError | None = None
        try:
            if self._running:
                try:
                    self._run("pg_ctl", ["-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
                except PgClusterError as exc:
                    error = exc
                    self._pg_ctl_quiet("immediate")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self._running = False
            self._port = None
            self._url = None
        if error is not None:
            raise error

    # -- internals

    def _hand_dir_to_server_user(self) -> None:
        if shutil.which("runuser") is None:
            raise PgClusterError("running as root needs `runuser` to drop to the postgres user")
        try:
            entry = pwd.getpwnam(SERVER_USER)
        except KeyError:
            raise PgClusterError(
                f"running as root needs a `{SERVER_USER}` user: useradd -r -U {SERVER_USER}"
            ) from None
        os.chown(self.directory, entry.pw_uid, entry.pw_gid)

    def _command(self, tool: str, args: list[str]) -> list[str]:
        assert self._bin is not None
        cmd = [str(self._bin / tool), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", SERVER_USER, "--", *cmd]
        return cmd

    def _env(self) -> dict[str, str]:
        # PGDATA, PGPORT and friends from the caller's shell must not steer our cluster.
        return {k: v for k, v in os.environ.items() if not k.startswith("PG")}

    def _run(self, tool: str, args: list[str]) -> None:
        try:
            proc = subprocess.run(
                self._command(tool, args),
                check=False,  # the exit code is turned into a PgClusterError below
                cwd=self.directory,  # the postgres user may not be able to read our cwd
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self._timeout + 30,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgClusterError(f"{tool} could not run: {exc}\n{self.log_tail()}") from exc
        if proc.returncode != 0:
            output = (proc.stdout + proc.stderr).strip()[-2000:]
            raise PgClusterError(
                f"{tool} failed with exit {proc.returncode}:\n{output}\n"
                f"--- tail of {self.log_path} ---\n{self.log_tail()}"
            )

    def _pg_ctl_quiet(self, mode: str) -> None:
        with contextlib.suppress(PgClusterError):
            self._run("pg_ctl", ["-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def _log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def _start_server(self) -> None:
        last: PgClusterError | None = None
        for _ in range(max(1, self._start_attempts)):
            port = free_port()
            opts = (
                f"-k {shlex.quote(str(self.directory))} -h {HOST} -p {port}"
                f"{'' if self._fsync else ' -F'}"
                f" -c max_connections={self._max_connections}"
            )
            offset = self._log_size()
            try:
                self._run(
                    "pg_ctl",
                    [
                        "-D", str(self.data_dir), "-l", str(self.log_path), "-w",
                        "-t", str(int(self._timeout)), "-o", opts, "start",
                    ],
                )  # fmt: skip
            except PgClusterError as exc:
                last = exc
                self._pg_ctl_quiet("immediate")  # in case it timed out half-started
                try:
                    with open(self.log_path, "rb") as log:
                        log.seek(offset)
                        fresh = log.read().decode(errors="replace").lower()
                except OSError:
                    fresh = ""
                if any(marker in fresh for marker in _PORT_TAKEN):
                    continue  # lost the race for the port: pick another
                raise
            self._port = port
            self._running = True
            self._url = sqlalchemy_url(f"postgresql://{SERVER_USER}@{HOST}:{port}/postgres")
            return
        assert last is not None
        raise last



# --------------------------------------------------------------------------- pytest fixtures

try:
    import pytest
except ModuleNotFoundError:  # benches may use PgCluster without the test stack
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture(scope="session")
    def pg_cluster() -> Iterator[PgServer]:
        """One server per test session: the shared external one, else a private cluster."""
        url = external_url()
        if url is not None:
            yield PgServer(url)
            return
        bin_dir = find_pg_bin()
        if bin_dir is None:
            require_external("PostgreSQL server binaries")
        with PgCluster(bin_dir) as cluster:
            yield cluster

    @pytest.fixture
    def pg_url(pg_cluster: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
        """SQLAlchemy URL of a fresh database for this test alone, dropped afterwards."""
        name = unique_database_name(request.node.name)
        url = pg_cluster.create_database(name)
        try:
            yield url
        finally:
            pg_cluster.drop_database(name)
