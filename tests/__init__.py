"""kappa's test suite: a package so that its shared helpers import as ``tests.helpers``.

The repository root is on ``sys.path`` through pytest's ``pythonpath = ["."]``
(pyproject.toml); test folders share code only through :mod:`tests.helpers` (and fixtures
through conftest files), never by importing another folder's test module or conftest.
"""
