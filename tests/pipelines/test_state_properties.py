"""Streaming state on every engine against the oracle (tests/helpers/state_oracle.py).

One engine-parametrised property test per operator family: random event streams (out-of-order
event times, late rows, identical duplicates, several keys; tests/helpers/state_streams.py)
cut into random batches; each batch is one commit of a Delta source table and one run of the
pipeline (trigger availableNow: one data batch, plus the no-data batch Spark runs when the
watermark moved). After every run the sink's Delta table must equal the oracle's table for the
batches so far; an update-mode upsert table of a plain ``GROUP BY`` must also equal a Polars
recompute over every event so far. On Polars the run summary's late rows and watermark must be
the oracle's too (Spark counts partially aggregated rows as late, so only its dedups are held to
the row count).

Case counts (``COUNTS``): the fast depth runs in ``make test`` (Polars: hundreds in all; Spark:
a few per family), the thorough depth under ``slow`` (``make test-slow``). hypothesis prints
the failing example (query and batches as ``key@seconds=v#id``).
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, note
from hypothesis import strategies as st

from kappa.config.loader import load_pipeline_text

from tests.helpers.properties import check
from tests.helpers.state_oracle import AGGREGATES, US, Query, recompute, simulate, to_datetime
from tests.helpers.state_streams import show, streams, write_batch
from tests.helpers.tables import delta_rows, row_key

MIN = 60 * US

#: examples per family: depth -> engine -> count
COUNTS = {"fast": {"polars": 40, "spark": 1}, "thorough": {"polars": 300, "spark": 12}}
#: batches per example: at most this many runs of the pipeline
MAX_BATCHES = {"polars": 5, "spark": 3}

FAMILIES = {
    "dedup": [
        Query("dedup", subset=("id",)),  # no watermark: the state is every key ever seen
        Query("dedup", delay_us=MIN),  # all columns: keys evicted by the watermark
        Query("dedup", delay_us=MIN, subset=("id",)),  # late rows drop, keys never evicted
        Query("dedup", delay_us=2 * MIN, subset=("id", "ts")),
    ],
    "dedup_within": [
        Query("dedup_within", delay_us=MIN, subset=("id",)),
        Query("dedup_within", delay_us=5 * MIN, subset=("id",)),
    ],
    "window_append": [
        Query("window", "append", delay_us=MIN, size_us=MIN),
        Query("window", "append", delay_us=0, size_us=5 * MIN),
        Query("window", "append", delay_us=2 * MIN, size_us=2 * MIN, slide_us=MIN),
    ],
    "window_update": [
        Query("window", "update", delay_us=MIN, size_us=MIN),
        Query("window", "update", delay_us=3 * MIN, size_us=3 * MIN, slide_us=MIN),
    ],
    "session_append": [
        Query("session", "append", delay_us=MIN, size_us=MIN),
        Query("session", "append", delay_us=0, size_us=3 * MIN),
    ],
    "complete": [
        Query("window", "complete", delay_us=MIN, size_us=2 * MIN),
        Query("aggregate", "complete"),
    ],
    "aggregate_update": [Query("aggregate", "update")],
}


def _seconds(us: int) -> str:
    return f"{us // US} seconds"


def steps(q: Query) -> list[str]:
    """The node's transformer steps (YAML flow mappings / SQL) for ``q``."""
    out = []
    if q.delay_us is not None:
        out.append(f"{{func_name: with_watermark, func_kwargs: {{column: ts, delay: {_seconds(q.delay_us)}}}}}")
    subset = f", func_kwargs: {{subset: [{', '.join(q.subset)}]}}" if q.subset else ""
    if q.op == "dedup":
        out.append(f"{{func_name: unique{subset}}}")
    elif q.op == "dedup_within":
        out.append(f"{{func_name: drop_duplicates_within_watermark{subset}}}")
    else:
        aggs = ", ".join(f"{sql} AS {name}" for name, sql in AGGREGATES.items())
        if q.op == "session":
            group = f"session_window(ts, '{_seconds(q.size_us)}')"
            out.append(f'{{expr: "SELECT {group} AS session_window, key, {aggs} FROM {{df}} GROUP BY {group}, key"}}')
        elif q.op == "window":
            slide = f", '{_seconds(q.slide_us)}'" if q.slide_us else ""
            group = f"window(ts, '{_seconds(q.size_us)}'{slide})"
            out.append(f'{{expr: "SELECT {group} AS window, key, {aggs} FROM {{df}} GROUP BY {group}, key"}}')
        else:
            out.append(f'{{expr: "SELECT key, {aggs}, avg(v) AS mean FROM {{df}} GROUP BY key"}}')
    return out


SINK_MODE = {"append": "append", "update": "upsert", "complete": "overwrite"}


def pipeline_text(q: Query, root) -> str:
    """The pipeline of ``q``: Delta ``root/src`` (a stream) -> node ``out`` -> Delta ``root/out``."""
    lines = ["name: state-prop", f"checkpoint_root: {root}/ck", "nodes:", "- name: out", "  source:",
             f"    path: {root}/src", "    format: DELTA", "    as_stream: true"]
    if q.op in ("window", "session", "aggregate"):
        lines.append(f"  output_mode: {q.mode}")
    lines += ["  transformer:"] + [f"  - {s}" for s in steps(q)]
    lines += ["  sinks:", "  - format: DELTA", f"    path: {root}/out"]
    if q.op in ("window", "session", "aggregate"):
        lines.append(f"    mode: {SINK_MODE[q.mode]}")
    return "\n".join(lines) + "\n"


def expected_types(q: Query) -> list[tuple[str, str]]:
    """The sink's columns and Arrow types (the same on both engines)."""
    ts = "timestamp[us, tz=UTC]"
    if q.op in ("dedup", "dedup_within"):
        return [("id", "int64"), ("key", "string"), ("ts", ts), ("v", "int64")]
    out = [(q.keys[0], f"struct<start: {ts}, end: {ts}>")] if q.op in ("window", "session") else []
    out += [("key", "string")] + [(name, "int64") for name in AGGREGATES]
    return out + ([("mean", "double")] if q.op == "aggregate" else [])


def _watermark(text: str | None) -> int | None:
    if text is None:
        return None
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((t - to_datetime(0)).total_seconds() * 1_000_000)


def run_case(engine, root, q: Query, cut: list[list[dict]]) -> None:
    """Write the batches one commit and one run at a time; after each run compare the sink."""
    pipeline = None
    seen: list[dict] = []
    before = simulate(q, [])
    for i, rows in enumerate(cut):
        write_batch(root / "src", rows)
        seen += rows
        pipeline = pipeline or load_pipeline_text(pipeline_text(q, root), path=str(root / "pipeline.yaml"))
        summary = engine.run(pipeline)
        assert summary.ok, summary.render()
        want = simulate(q, cut[: i + 1])
        schema, got = delta_rows(root / "out")
        assert [(f.name, str(f.type)) for f in schema] == expected_types(q), f"run {i}: sink schema {schema}"
        assert got == sorted(want.table(), key=row_key), f"run {i}: the sink differs from the oracle"
        if q.op == "aggregate" and q.mode == "update":
            assert got == sorted(recompute(seen), key=row_key), f"run {i}: the upsert table is not the GROUP BY"
        node = summary.node("out")
        late = want.late_rows - before.late_rows
        if engine.name == "polars" or q.op in ("dedup", "dedup_within"):
            assert node.late_rows == late, f"run {i}: late rows {node.late_rows}, oracle {late}"
        if engine.name == "polars" and q.delay_us is not None:  # the watermark the last batch ran with (None: 0)
            assert _watermark(node.watermark) == (want.batches[-1].wm_evict or None), f"run {i}: watermark {node.watermark}"
        before = want


@contextmanager
def _upsert_budget(engine, budget: str | None):
    """Spark: ``spark.kappa.upsert.driverBytes`` set to ``budget`` for the example (None: the default)."""
    if engine.name != "spark" or budget is None:
        yield
        return
    from kappa.engines.spark.upsert_exec import DRIVER_BYTES_CONF

    spark = engine.spark
    spark.conf.set(DRIVER_BYTES_CONF, budget)
    try:
        yield
    finally:
        spark.conf.unset(DRIVER_BYTES_CONF)


def family_test(family: str):
    """The property test of one operator family, for the ``engine`` fixture at ``depth``."""

    @pytest.mark.parametrize("depth", ["fast", pytest.param("thorough", marks=pytest.mark.slow)])
    def test(engine, depth, tmp_path_factory):
        n = COUNTS[depth][engine.name]

        def prop(q, cut, executors):
            note(f"{engine}: {q}\nbatches: {show(cut)}\nupsert on the executors: {executors}")  # printed for the failing example
            with _upsert_budget(engine, "0" if executors else None):
                run_case(engine, tmp_path_factory.mktemp(family), q, cut)

        # Spark's upsert sink: on the executors (no driver budget) in the fast run, either way in the thorough one
        check(prop, n, dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=False),
              q=st.sampled_from(FAMILIES[family]), cut=streams(max_events=24, max_batches=MAX_BATCHES[engine.name]),
              executors=st.booleans() if depth == "thorough" else st.just(True))

    test.__name__ = f"test_{family}"
    test.__doc__ = f"{family}: every run's sink equals the oracle's table ({', '.join(map(str, FAMILIES[family]))})."
    return test


test_dedup = family_test("dedup")
test_dedup_within_watermark = family_test("dedup_within")
test_window_append = family_test("window_append")
test_window_update = family_test("window_update")
test_session_window_append = family_test("session_append")
test_complete = family_test("complete")
test_aggregate_update = family_test("aggregate_update")
