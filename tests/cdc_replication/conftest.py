"""Fixtures of the CDC replication tests (helpers live in repl_util)."""

from repl_util import inventory  # noqa: F401 - the fixture
