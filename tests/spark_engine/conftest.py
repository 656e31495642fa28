"""Spark engine tests: the shared ``spark`` session fixture comes from tests/conftest.py."""
