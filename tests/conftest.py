"""Shared fixtures. One SparkSession per pytest session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")


@pytest.fixture(scope="session")
def spark():
    """A local SparkSession shared by every test of the session (python connector profile)."""
    from kappa.engines.spark.session import get_or_create_session

    session = get_or_create_session(master="local[2]", app_name="kappa-tests")
    yield session
    session.stop()
