"""The conformance suites catch every deliberately broken backend, and pass the real ones.

Each broken backend (``fontana.testing.broken``) breaks one rule. One nested
pytest run per suite (a subprocess, reporting through JUnit XML) runs the suite
once per broken backend and once on the real backend beside them: every broken
one must fail at least one test, the real one none, so a failure means the fault
was found, not that the harness is broken. The charging suite runs gunicorn
servers, on SQLite only here (its PostgreSQL half is the same code on another
database, which the Flask and Django plugins' runs cover).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fontana.testing.broken.charging import BROKEN_ADAPTERS
from fontana.testing.broken.da import BROKEN_DA
from fontana.testing.broken.payments import BROKEN_BACKENDS
from fontana.testing.broken.proofs import BROKEN_PROVIDERS
from fontana.testing.broken.storage import BROKEN_STORAGES
from fontana.testing.broken.txengine import BROKEN_TX_ENGINES
from fontana.testing.requirements import require_external

#: Only a hung nested run would get near this; it is no speed test.
NESTED_TIMEOUT_S = 1800


def suite_module(
    imports: str, suite: str, body: str, real: str, broken: str, broken_part: str = "part"
) -> str:
    """A nested run's test module: ``suite`` subclassed with ``body`` by ``suite_for(part)``,
    as ``TestReal`` for ``real`` and as ``Test<name>`` for each ``name, part`` of the
    ``broken`` dict (the part ``broken_part`` names)."""
    return f"""
import pytest
{imports}


def suite_for(part):
    class Suite({suite}):
{textwrap.indent(textwrap.dedent(body).strip(), " " * 8)}

    return Suite


TestReal = suite_for({real})
for name, part in {broken}.items():
    globals()["Test" + name] = suite_for({broken_part})
"""


DA_MODULE = suite_module(
    """
from fontana.da.local import LocalDA
from fontana.testing.broken.da import BROKEN_DA
from fontana.testing.da import DAConformance
""",
    "DAConformance",
    """
    @pytest.fixture
    def da_factory(self, tmp_path):
        return lambda namespace: part(tmp_path / "da", namespace, max_blob_size=4096)
    """,
    real="LocalDA",
    broken="BROKEN_DA",
)

STORAGE_MODULE = suite_module(
    """
from fontana.storage.sqlite import SQLiteStorage
from fontana.testing.broken.storage import BROKEN_STORAGES
from fontana.testing.storage import StorageConformance
""",
    "StorageConformance",
    """
    @pytest.fixture
    def storage_factory(self, tmp_path, fontana_settings):
        return lambda: part(f"sqlite:///{tmp_path}/ledger.db", fontana_settings)
    """,
    real="SQLiteStorage",
    broken="BROKEN_STORAGES",
)

PROOFS_MODULE = suite_module(
    """
from fontana.state import PythonSMTProvider
from fontana.testing.broken.proofs import BROKEN_PROVIDERS
from fontana.testing.proofs import ProofProviderConformance
""",
    "ProofProviderConformance",
    """
    @pytest.fixture
    def provider_factory(self):
        return part
    """,
    real="PythonSMTProvider",
    broken="BROKEN_PROVIDERS",
)

TX_MODULE = suite_module(
    """
from fontana.testing.broken.txengine import BROKEN_TX_ENGINES
from fontana.testing.txengine import TxEngineConformance
from fontana.txengine import PythonTxEngine
""",
    "TxEngineConformance",
    """
    @pytest.fixture
    def engine(self):
        return part()
    """,
    real="PythonTxEngine",
    broken="BROKEN_TX_ENGINES",
)

PAYMENTS_MODULE = suite_module(
    """
from fontana.payments.backends import LedgerBackend
from fontana.testing.broken.payments import BROKEN_BACKENDS
from fontana.testing.payments import PaymentBackendSuite
""",
    "PaymentBackendSuite",
    """
    @pytest.fixture
    def backend(self, ledger):
        return part(ledger)
    """,
    real="LedgerBackend",
    broken="BROKEN_BACKENDS",
)

#: Two workers per server (the suite's default is three): a third of the processes to boot
#: for each of the many apps, and still several per server.
CHARGING_MODULE = suite_module(
    """
from pathlib import Path
import fontana.testing
from fontana.testing.broken.charging import BROKEN_ADAPTERS
from fontana.testing.charging import ChargingAdapterSuite
""",
    "ChargingAdapterSuite",
    """
    app_module = part
    app_dir = Path(fontana.testing.__file__).parent
    workers = 2
    buffers_streams = True
    """,
    real='"fontana.testing.charging_app:app()"',
    broken="BROKEN_ADAPTERS",
    broken_part='f"fontana.testing.broken.charging:app({name!r})"',
)

#: The nested run's conftest: like ``-x``, but per class, so each broken backend stops at
#: its first failure while the other classes (and the real backend, whole) go on.
STOP_AT_FIRST_FAILURE = """
import pytest

CAUGHT = set()


# The class a test is collected as: its name in the module, as every class is named Suite.
def suite_class(nodeid):
    parts = nodeid.split("::")
    return parts[1] if len(parts) > 2 else None


def pytest_runtest_setup(item):
    if suite_class(item.nodeid) in CAUGHT:
        pytest.skip("this backend failed an earlier test already")


def pytest_runtest_logreport(report):
    cls = suite_class(report.nodeid)
    if report.failed and cls not in (None, "TestReal"):
        CAUGHT.add(cls)
"""

#: Per suite class of the nested run: test name -> "passed", "failed", "error" or "skipped".
Outcomes = dict[str, dict[str, str]]


def run_nested(directory: Path, source: str, *args: str) -> Outcomes:
    """Run ``source`` as a test module in a fresh pytest process (more pytest ``args``);
    outcomes per class."""
    directory.mkdir()
    (directory / "test_suite.py").write_text(source)
    (directory / "conftest.py").write_text(STOP_AT_FIRST_FAILURE)
    report = directory / "report.xml"
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}"]
    done = subprocess.run(
        [*argv, *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=NESTED_TIMEOUT_S,
    )
    assert report.exists(), f"the nested run wrote no report:\n{done.stdout}\n{done.stderr}"
    outcomes: Outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        cls = case.get("classname", "").rsplit(".", 1)[-1]
        kinds = {child.tag for child in case}
        outcome = next((k for k in ("failure", "error", "skipped") if k in kinds), "passed")
        outcomes.setdefault(cls, {})[case.get("name", "")] = outcome.replace("failure", "failed")
    return outcomes


def check_real(outcomes: Outcomes) -> None:
    real = outcomes.get("TestReal", {})
    assert len(real) >= 10, "the nested run did not run the suite"
    bad = {name: outcome for name, outcome in real.items() if outcome != "passed"}
    assert bad == {}, f"the real backend does not pass its suite: {bad}"


def check_caught(outcomes: Outcomes, name: str) -> None:
    results = outcomes.get("Test" + name, {})
    assert results.keys() == outcomes["TestReal"].keys(), f"{name}: the suite was not run whole"
    caught = sorted(test for test, outcome in results.items() if outcome == "failed")
    assert caught, f"{name} passed the whole suite: {results}"
    assert len(caught) == 1, f"{name}: the run went on after its first failure: {caught}"


@pytest.fixture(scope="module")
def da_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    return run_nested(tmp_path_factory.mktemp("da") / "run", DA_MODULE)


@pytest.fixture(scope="module")
def storage_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    return run_nested(tmp_path_factory.mktemp("storage") / "run", STORAGE_MODULE)


def test_da_suite_passes_the_real_local_layer(da_outcomes: Outcomes) -> None:
    check_real(da_outcomes)


@pytest.mark.parametrize("name", sorted(BROKEN_DA))
def test_da_suite_catches_a_broken_layer(da_outcomes: Outcomes, name: str) -> None:
    check_caught(da_outcomes, name)


def test_storage_suite_passes_the_real_sqlite_storage(storage_outcomes: Outcomes) -> None:
    check_real(storage_outcomes)


@pytest.mark.parametrize("name", sorted(BROKEN_STORAGES))
def test_storage_suite_catches_a_broken_storage(storage_outcomes: Outcomes, name: str) -> None:
    check_caught(storage_outcomes, name)


@pytest.fixture(scope="module")
def proofs_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    return run_nested(tmp_path_factory.mktemp("proofs") / "run", PROOFS_MODULE)


def test_proofs_suite_passes_the_python_tree(proofs_outcomes: Outcomes) -> None:
    check_real(proofs_outcomes)


@pytest.mark.parametrize("name", sorted(BROKEN_PROVIDERS))
def test_proofs_suite_catches_a_broken_provider(proofs_outcomes: Outcomes, name: str) -> None:
    check_caught(proofs_outcomes, name)


@pytest.fixture(scope="module")
def tx_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    return run_nested(tmp_path_factory.mktemp("tx") / "run", TX_MODULE)


def test_tx_engine_suite_passes_the_python_engine(tx_outcomes: Outcomes) -> None:
    check_real(tx_outcomes)


@pytest.mark.parametrize("name", sorted(BROKEN_TX_ENGINES))
def test_tx_engine_suite_catches_a_broken_engine(tx_outcomes: Outcomes, name: str) -> None:
    check_caught(tx_outcomes, name)


@pytest.fixture(scope="module")
def payments_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    return run_nested(tmp_path_factory.mktemp("payments") / "run", PAYMENTS_MODULE)


def test_payments_suite_passes_the_ledger_backend(payments_outcomes: Outcomes) -> None:
    check_real(payments_outcomes)


@pytest.mark.parametrize("name", sorted(BROKEN_BACKENDS))
def test_payments_suite_catches_a_broken_backend(payments_outcomes: Outcomes, name: str) -> None:
    check_caught(payments_outcomes, name)


@pytest.fixture(scope="module")
def charging_outcomes(tmp_path_factory: pytest.TempPathFactory) -> Outcomes:
    if importlib.util.find_spec("gunicorn") is None:
        require_external("gunicorn")
    directory = tmp_path_factory.mktemp("charging") / "run"
    return run_nested(directory, CHARGING_MODULE, "-k", "sqlite")


def test_charging_suite_passes_the_wsgi_adapter(charging_outcomes: Outcomes) -> None:
    check_real(charging_outcomes)


@pytest.mark.parametrize("name", sorted(BROKEN_ADAPTERS))
def test_charging_suite_catches_a_broken_adapter(charging_outcomes: Outcomes, name: str) -> None:
    check_caught(charging_outcomes, name)
