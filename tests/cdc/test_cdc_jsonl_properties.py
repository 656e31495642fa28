"""Property test through the Polars engine: a JSONL change feed with no declared schema.

Every type comes from the JSON values of each file, so a value column null in every record of
a batch reaches the MERGE as Arrow's ``null`` type -- what used to be dropped as a missing
column (SCD1 kept the old value, SCD2 lost versions). Random streams (``test_cdc_properties``'s
generator: duplicates, out-of-order events, early deletes, ties, null updates) are written one
file per batch, each followed by a replay of a node with an SCD1 and an SCD2 MERGE sink; both
tables equal the oracle's. A column that never had a value has no type yet and is not in the
target (``kappa.cdc.nulls``): the comparison reads it as null. On a failure hypothesis prints
the example and its seed blob.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck
from tests.helpers.cdc_events import streams

from tests.helpers import cdc_oracle as oracle
from tests.helpers.properties import check, depths
from tests.helpers.cdc_events import read_rows, scd2_expected, sort_rows
from kappa.api import Pipeline
from kappa.runner import execute_pipeline

COLUMNS = ["id", "seq", "a", "b"]
MERGE = "keys: [id], sequence_by: seq, apply_as_deletes: \"op = 'D'\", except_column_list: [op]"
PIPELINE = f"""\
name: jsonlprop
checkpoint_root: {{root}}/ck
nodes:
- name: feed
  source: {{{{path: {{root}}/in, format: JSONL, as_stream: true}}}}
  sinks:
  - {{{{format: DELTA, path: {{root}}/scd1, merge: {{{{{MERGE}}}}}}}}}
  - {{{{format: DELTA, path: {{root}}/scd2, merge: {{{{{MERGE}, stored_as_scd_type: 2}}}}}}}}
"""
OPS = {"upsert": "U", "delete": "D"}


def _rows(uri: str, extra: list[str]) -> list[dict]:
    return sort_rows([{c: r.get(c) for c in COLUMNS + extra} for r in read_rows(uri)])


SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)


@depths(12, 60)
def test_jsonl_feed_without_schema_matches_oracle(examples):
    check(_jsonl_feed_without_schema_matches_oracle, examples, SETTINGS, stream=streams(max_events=12))


def _jsonl_feed_without_schema_matches_oracle(stream):
    events, cuts = stream
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(events))), len(events)]
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "in").mkdir()
        for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
            lines = [json.dumps({**e, "op": OPS[e["op"]]}) for e in events[lo:hi]]
            (Path(d) / "in" / f"part-{i:03d}.jsonl").write_text("\n".join(lines) + "\n")
            summary = execute_pipeline(Pipeline.model_validate_yaml(PIPELINE.format(root=d)), engine="polars")
            assert summary.ok, summary.render()
        scd1 = oracle.scd1(events, keys=["id"], seq=["seq"], columns=COLUMNS, ignore_null=False)
        scd2 = oracle.scd2(events, keys=["id"], seq=["seq"], columns=COLUMNS, tracked=["a", "b"],
                           ignore_null=False)
        assert _rows(f"{d}/scd1", []) == sort_rows(scd1)
        assert _rows(f"{d}/scd2", ["__START_AT", "__END_AT"]) == scd2_expected(scd2, single_seq=True)
