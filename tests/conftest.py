"""Shared fixtures. One SparkSession per pytest session.

``engine`` runs a test once per engine (narwhals' ``constructor`` pattern): a test that takes
the ``engine`` fixture is parametrised over the engines ``--engines`` names (default
``polars,spark``), the Spark case marked ``spark`` (so ``-m "not spark"`` deselects it) and
handed the session's SparkSession. Write the test once against
:class:`tests.helpers.engines.Engine` (``engine.run(pipeline)``, ``engine.name``) and one
expected table.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.helpers.debezium import inventory  # noqa: F401 - the fixture: two fresh Debezium topics
from tests.helpers.engines import ENGINES, Engine

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
# kappa.sql.cache: this session's own directory (never the user's ~/.cache), shared by its tests and
# the processes they start, so runs of the same step after the first read their SQL from it
if "KAPPA_CACHE_DIR" not in os.environ:
    os.environ["KAPPA_CACHE_DIR"] = _OWN_CACHE = tempfile.mkdtemp(prefix="kappa-test-cache-")
else:
    _OWN_CACHE = None


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--engines", default=",".join(ENGINES),
        help=f"comma-separated engines the `engine` fixture runs each test on (default: {','.join(ENGINES)})",
    )


def pytest_configure(config) -> None:
    selected_engines(config)  # an unknown --engines name stops the run before collection


def pytest_unconfigure(config) -> None:
    if _OWN_CACHE is not None and not hasattr(config, "workerinput"):  # the session's (xdist workers share it)
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


def selected_engines(config) -> list[str]:
    """The engines of ``--engines``, in the fixture's order; an unknown name is a usage error."""
    names = [n.strip() for n in config.getoption("--engines").split(",") if n.strip()]
    unknown = sorted(set(names) - set(ENGINES))
    if unknown:
        raise pytest.UsageError(f"--engines: unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")
    return [e for e in ENGINES if e in names]


def _parametrises_engine(metafunc) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", ())
        if "engine" in ([n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)):
            return True
    return False


def pytest_generate_tests(metafunc) -> None:
    """Parametrise every test that takes ``engine`` over the selected engines (Spark: ``spark``
    marker), unless the test parametrises ``engine`` itself."""
    if "engine" not in metafunc.fixturenames or _parametrises_engine(metafunc):
        return
    params = [pytest.param(name, id=name, marks=[pytest.mark.spark] if name == "spark" else [])
              for name in selected_engines(metafunc.config)]
    metafunc.parametrize("engine", params, indirect=True)


def pytest_collection_modifyitems(config, items) -> None:
    """A test that takes the ``spark`` fixture starts Spark: it is marked ``spark`` too (so
    ``-m "not spark"`` never starts a JVM).

    Under pytest-xdist (``make test`` runs ``-n 2 --dist loadgroup``) every test on the session's
    local Spark is in one group, so one worker runs them all on one SparkSession while the other
    worker runs the rest; tests that start their own JVM in a subprocess are spread like any
    other, and the Spark Connect tests share one server in a group of their own."""
    grouped = config.pluginmanager.hasplugin("xdist") and getattr(config.option, "numprocesses", None)
    for item in items:
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spark)
        if not grouped or not (item.get_closest_marker("spark") or item.get_closest_marker("cluster")):
            continue
        module = item.nodeid.split("::")[0]
        if module in _OWN_JVM:
            continue
        item.add_marker(pytest.mark.xdist_group("connect" if "spark_connect" in getattr(item, "fixturenames", ()) else "spark"))


#: Spark tests whose JVM is a subprocess of their own (``kappa`` CLI runs): any worker may run them.
_OWN_JVM = frozenset({"tests/cli_runs/test_spark_run_output.py", "tests/spark_big/test_big_batch.py"})


@pytest.fixture
def engine(request) -> Engine:
    """The engine this case runs on (see the module docstring); on Spark, ``engine.spark`` (or
    ``engine.run``) starts the session's SparkSession."""
    if request.param == "spark":
        return Engine("spark", lambda: request.getfixturevalue("spark"))
    return Engine(request.param)


@pytest.fixture(scope="session")
def spark():
    """A local SparkSession shared by every test of the session (python connector profile).

    Its driver may receive at most 8 MiB of results per job: a node's data path never brings
    rows to the driver (issue 9), so no pipeline test may need more."""
    from kappa.engines.spark.session import get_or_create_session

    session = get_or_create_session(master="local[2]", app_name="kappa-tests", conf={"spark.driver.maxResultSize": "8m"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def gen():
    """The stock-prices example's ``generator`` module (:mod:`tests.helpers.examples`)."""
    from tests.helpers.examples import load_generator

    return load_generator()
