"""A fresh ``kappa stream start`` under a live producer: silver holds exactly bronze's rows.

Silver streams bronze's Delta table through ``kappa_delta``. Before the fix its initial offset
(the snapshot of bronze's *current* version) was computed again when Spark ran batch 0, so the
bronze versions committed in between were skipped (two or more) or read twice (exactly one).
"""

from __future__ import annotations

import threading
import time

import pytest

from kappa.cli import main
from kappa.delta.read import read_delta
from kappa.testing.kafka import produce
from tests.helpers.pipelines import downstream, kafka_bronze

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.slow]  # ~2 min: a live-producer drill

PIPELINE = kafka_bronze(
    "fresh", source=(("schema", '"id BIGINT"'), ("max_offsets_per_trigger", "20")), select="SELECT value.id AS id FROM {{df}}",
    trigger="100 milliseconds",
    downstream=downstream("slv", "brz", expectations=(("not_seven", '"id % 10 <> 7"', "quarantine"),), quarantine="slv_quarantine"),
)


def _ids(path) -> list[int]:
    return sorted(read_delta(str(path), columns=["id"]).column("id").to_pylist())


def test_fresh_stream_start_under_a_live_producer_is_exact(spark, tmp_path, write_pipeline, kafka_bootstrap, make_topic, capsys):
    topic = make_topic(partitions=1)
    path = write_pipeline(PIPELINE, bootstrap=kafka_bootstrap, topic=topic)
    total, step = 300, 10
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(step)])
    stop, sent = threading.Event(), [step]

    def producer() -> None:  # ~3 s of records while the pipeline starts fresh
        for start in range(step, total, step):
            if stop.is_set():
                return
            produce(kafka_bootstrap, topic, [{"id": i} for i in range(start, start + step)])
            sent[0] = start + step
            time.sleep(0.1)

    thread = threading.Thread(target=producer, daemon=True)
    thread.start()
    try:
        main(["stream", "start", path, "--until-idle", "--profile", "python", "--refresh", "0.3"])
    finally:
        stop.set()
        thread.join()
    main(["stream", "start", path, "--until-idle", "--profile", "python", "--refresh", "0.3"])  # final drain
    capsys.readouterr()
    produced = list(range(sent[0]))
    assert len(produced) > 100
    assert _ids(tmp_path / "brz") == produced
    assert _ids(tmp_path / "slv") == [i for i in produced if i % 10 != 7]
    assert _ids(tmp_path / "slv_quarantine") == [i for i in produced if i % 10 == 7]
