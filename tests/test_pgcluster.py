"""The throwaway PostgreSQL harness: real clusters, real databases, real processes.

Every storage test builds on these fixtures, so they are checked against a real server;
in CI a missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg
import pytest

from fontana.testing import pgcluster
from fontana.testing.pgcluster import (
    PgCluster,
    PgClusterError,
    PgServer,
    find_pg_bin,
    libpq_url,
    sqlalchemy_url,
    unique_database_name,
)
from fontana.testing.requirements import require_external

# pg_cluster and pg_url come from the fontana pytest plugin (entry point pytest11), the same
# way a third-party plugin's suite gets them.


def _bin_dir() -> Path:
    """Server binaries for tests that start clusters themselves, under the CI policy."""
    found = find_pg_bin()
    if found is None:
        require_external("PostgreSQL server binaries")
    assert found is not None
    return found


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _scalar(url: str, query: str) -> object:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


# --------------------------------------------------------------------------- policy


def test_require_external_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("true", "1", "TRUE"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.fail.Exception, match="widget is required in CI"):
            require_external("widget")


def test_require_external_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in (None, "", "false", "0"):
        if value is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.skip.Exception):
            require_external("widget")


def test_find_pg_bin_honours_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("initdb", "pg_ctl", "postgres"):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\n")
        tool.chmod(0o755)
    monkeypatch.setenv("FONTANA_PG_BIN", str(tmp_path))
    assert find_pg_bin() == tmp_path
    (tmp_path / "postgres").unlink()
    with pytest.raises(PgClusterError, match="FONTANA_PG_BIN"):
        find_pg_bin()


def test_url_helpers() -> None:
    assert sqlalchemy_url("postgresql://u@h:1/d") == "postgresql+psycopg://u@h:1/d"
    assert sqlalchemy_url("postgres://u@h:1/d") == "postgresql+psycopg://u@h:1/d"
    assert sqlalchemy_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert libpq_url("postgresql+psycopg://u:p@h:1/d?sslmode=disable") == (
        "postgresql://u:p@h:1/d?sslmode=disable"
    )
    server = PgServer("postgresql://u@h:1/postgres")
    assert server.database_url("t_x") == "postgresql+psycopg://u@h:1/t_x"
    with pytest.raises(ValueError):
        server.database_url("Robert'); DROP TABLE students;--")
    name = unique_database_name("test_thing[param-1]")
    assert name.startswith("t_test_thing_param_1_") and len(name) <= 63
    assert unique_database_name("same") != unique_database_name("same")


# --------------------------------------------------------------------------- lifecycle


def test_cluster_start_stop() -> None:
    bin_dir = _bin_dir()
    started = time.monotonic()
    with PgCluster(bin_dir) as cluster:
        ready = time.monotonic() - started
        assert cluster.url == f"postgresql+psycopg://postgres@127.0.0.1:{cluster.port}/postgres"
        assert _scalar(cluster.url, "SHOW max_connections") == "200"
        assert _scalar(cluster.url, "SHOW fsync") == "off"
        assert (
            str(_scalar(cluster.url, "SHOW server_version")).split(".")[0]
            == (bin_dir.parent.name.split(".")[0])
        )
        directory, port = cluster.directory, cluster.port
        assert cluster.log_path.exists()
    print(f"cluster ready in {ready:.2f}s")
    assert not directory.exists()
    assert not _port_open(port)
    cluster.stop()  # idempotent


def test_a_cluster_for_benchmarks_keeps_fsync_on() -> None:
    """``fsync=True``: commits are durable, so a benchmark's floor is a real commit."""
    with PgCluster(_bin_dir(), fsync=True) as cluster:
        assert _scalar(cluster.url, "SHOW fsync") == "on"


def test_start_retries_when_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = _bin_dir()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        ports = iter([taken, taken])
        real_free_port = pgcluster.free_port
        monkeypatch.setattr(pgcluster, "free_port", lambda: next(ports, None) or real_free_port())
        with PgCluster(bin_dir) as cluster:
            assert cluster.port != taken
            assert _scalar(cluster.url, "SELECT 1") == 1


def test_start_failure_reports_server_log() -> None:
    cluster = PgCluster(_bin_dir(), max_connections=-5)
    with pytest.raises(PgClusterError) as info:
        cluster.start()
    assert "max_connections" in str(info.value)  # from the tail of pg.log
    with pytest.raises(PgClusterError):
        cluster.directory  # noqa: B018  (cleaned up: nothing left behind)


# --------------------------------------------------------------------------- databases


def test_databases_are_isolated(pg_cluster: PgServer) -> None:
    names = [unique_database_name("iso_a"), unique_database_name("iso_b")]
    url_a, url_b = (pg_cluster.create_database(name) for name in names)
    try:
        with psycopg.connect(libpq_url(url_a)) as conn:
            conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, amount bigint)")
            conn.execute("INSERT INTO ledger VALUES (1, 100)")
        with psycopg.connect(libpq_url(url_b)) as conn:
            conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, amount bigint)")
            conn.execute("INSERT INTO ledger VALUES (1, 7), (2, 8)")
        assert _scalar(url_a, "SELECT sum(amount) FROM ledger") == 100
        assert _scalar(url_b, "SELECT sum(amount) FROM ledger") == 15
        assert _scalar(url_a, "SELECT current_database()") == names[0]
    finally:
        for name in names:
            pg_cluster.drop_database(name)
    with pytest.raises(psycopg.OperationalError, match="does not exist"):
        psycopg.connect(libpq_url(url_a))


def test_pg_url_is_fresh_and_private(pg_url: str) -> None:
    assert pg_url.startswith("postgresql+psycopg://")
    name = _scalar(pg_url, "SELECT current_database()")
    assert isinstance(name, str) and name.startswith("t_test_pg_url_is_fresh_and_private_")
    assert _scalar(pg_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


_WORKER = textwrap.dedent(
    """
    import os, sys
    import psycopg
    worker = int(sys.argv[1])
    with psycopg.connect(os.environ["DB_URL"]) as conn:
        seen = conn.execute("SELECT amount FROM ledger WHERE id = 0").fetchone()[0]
        with conn.transaction():
            for i in range(50):
                conn.execute("INSERT INTO ledger VALUES (%s, %s)", (1000 * worker + i + 1, 1))
    print(seen)
    """
)


def test_many_processes_share_one_database(pg_url: str) -> None:
    dsn = libpq_url(pg_url)
    with psycopg.connect(dsn) as conn:  # held open while the workers run
        conn.execute("CREATE TABLE ledger (id int PRIMARY KEY, amount bigint)")
        conn.execute("INSERT INTO ledger VALUES (0, 42)")
        conn.commit()
        env = {**os.environ, "DB_URL": dsn}
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", _WORKER, str(n)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(1, 5)
        ]
        for proc in workers:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            assert out.strip() == "42"
        row = conn.execute("SELECT count(*), sum(amount) FROM ledger").fetchone()
    assert row == (201, 242)


def test_drop_ends_leftover_connections(pg_cluster: PgServer) -> None:
    name = unique_database_name("leftover")
    url = pg_cluster.create_database(name)
    leftover = psycopg.connect(libpq_url(url))
    try:
        pg_cluster.drop_database(name)
        with pytest.raises(psycopg.OperationalError):
            leftover.execute("SELECT 1")
    finally:
        leftover.close()
    pg_cluster.drop_database(name)  # already gone: no error
