"""Shared fixtures. One SparkSession per pytest session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")


@pytest.fixture(scope="session")
def spark():
    """A local SparkSession shared by every test of the session (python connector profile).

    Its driver may receive at most 8 MiB of results per job: a node's data path never brings
    rows to the driver (issue 9), so no pipeline test may need more."""
    from kappa.engines.spark.session import get_or_create_session

    session = get_or_create_session(master="local[2]", app_name="kappa-tests", conf={"spark.driver.maxResultSize": "8m"})
    yield session
    session.stop()
