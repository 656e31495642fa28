"""The typed plan describes nodes exactly as kappa did before: same descriptions (key order
included) and same digests, so existing checkpoints keep their verdicts.

``fingerprints_golden.json`` was computed by the code before the plan was typed (pydantic
``spec`` models on the plan) over :data:`tests.plan.pipelines_for_fingerprints.PIPELINES`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plan.pipelines_for_fingerprints import PIPELINES, descriptions

GOLDEN = json.loads((Path(__file__).parent / "fingerprints_golden.json").read_text())


@pytest.fixture(scope="module")
def current():
    mp = pytest.MonkeyPatch()
    mp.setenv("FP_PW", "zz")
    try:
        yield json.loads(json.dumps(descriptions()))
    finally:
        mp.undo()


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
@pytest.mark.parametrize("part", ["polars", "spark", "digests"])
def test_descriptions_and_digests_unchanged(current, pipeline, part):
    got, want = current[pipeline][part], GOLDEN[pipeline][part]
    assert json.dumps(got, indent=1) == json.dumps(want, indent=1)  # key order too


def test_no_secret_in_descriptions(current):
    assert "zz" not in json.dumps(current)
