"""Two real processes committing appends to one Delta table on S3 at the same time lose nothing,
and a duplicate run racing the first (same app id and batch ids) commits each batch once.

Each process writes its batches through kappa's :class:`~kappa.delta.writer.DeltaWriter` with the
options kappa gives an ``s3://`` table (``conditional_put: etag``: a commit is a conditional PUT
of ``_delta_log/<version>.json``; a writer that loses the race re-reads the log and retries).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from kappa.delta.read import read_delta
from kappa.delta.storage import table_options

REPO = Path(__file__).resolve().parents[2]
BATCHES = 8

WRITER = """
import json, sys, time
import pyarrow as pa
from kappa.delta.writer import DeltaWriter
uri, writer, start, options = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])
while time.time() < start:
    time.sleep(0.002)
w = DeltaWriter(uri, mode="append", app_id=f"kappa:test:{{writer}}", storage_options=options)
for batch in range({batches}):
    assert w.write_arrow(pa.table({{"writer": [writer], "batch": [batch]}}), batch)
"""


def test_two_processes_append_concurrently_and_every_commit_lands(s3_endpoint):
    import json

    uri = s3_endpoint.uri("shared")
    options = table_options(uri, None, s3_endpoint.storage_options)
    assert options["conditional_put"] == "etag"
    write_deltalake(uri, pa.table({"writer": ["seed"], "batch": [-1]}), storage_options=options)  # version 0
    start = time.time() + 2.0  # both processes begin their commits at the same instant
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER.format(batches=BATCHES), uri, name, str(start), json.dumps(options)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err

    table = DeltaTable(uri, storage_options=options)
    assert table.version() == 2 * BATCHES
    assert sorted(h["version"] for h in table.history()) == list(range(2 * BATCHES + 1))  # contiguous
    rows = pl.from_arrow(read_delta(uri, storage_options=options)).filter(pl.col("writer") != "seed")
    assert rows.height == 2 * BATCHES
    assert sorted(rows.rows()) == sorted((w, b) for w in ("a", "b") for b in range(BATCHES))
    assert table.transaction_version("kappa:test:a") == BATCHES - 1
    assert table.transaction_version("kappa:test:b") == BATCHES - 1


SAME_BATCHES = """
import json, sys, time
import pyarrow as pa
from kappa.delta.writer import DeltaWriter
uri, writer, start, options = sys.argv[1], sys.argv[2], float(sys.argv[3]), json.loads(sys.argv[4])
w = DeltaWriter(uri, mode="append", app_id="kappa:same", storage_options=options)
committed = 0
for batch in range({batches}):
    while time.time() < start + batch * 0.4:  # both processes try each batch at the same instant
        time.sleep(0.001)
    committed += w.write_arrow(pa.table({{"writer": [writer], "batch": [batch]}}), batch)
print(committed)
"""


def test_two_processes_writing_the_same_batches_commit_each_once(s3_endpoint):
    """A duplicate run (same app id, same batch ids) racing the first: every batch lands exactly once."""
    import json

    uri = s3_endpoint.uri("same")
    options = table_options(uri, None, s3_endpoint.storage_options)
    write_deltalake(uri, pa.table({"writer": ["seed"], "batch": [-1]}), storage_options=options)
    start = time.time() + 2.0
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", SAME_BATCHES.format(batches=BATCHES), uri, name, str(start), json.dumps(options)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    committed = 0
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        committed += int(out.strip())
    assert committed == BATCHES
    table = DeltaTable(uri, storage_options=options)
    assert table.version() == BATCHES
    rows = pl.from_arrow(read_delta(uri, storage_options=options)).filter(pl.col("writer") != "seed")
    assert sorted(rows["batch"].to_list()) == list(range(BATCHES))
    assert table.transaction_version("kappa:same") == BATCHES - 1
