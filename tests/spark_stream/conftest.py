"""Helpers of the ``kappa stream`` tests: pipeline files and hand-made Spark checkpoints."""

from __future__ import annotations

import textwrap

import pytest


@pytest.fixture
def write_pipeline(tmp_path):
    """``write_pipeline(template, **fmt) -> path``: a pipeline file under ``tmp_path``."""

    def _write(template: str, name: str = "pipeline.yaml", **fmt) -> str:
        path = tmp_path / name
        path.write_text(textwrap.dedent(template).format(root=tmp_path, **fmt))
        return str(path)

    return _write
