"""Offsets out of range (issue 7, item 1.2): a loud stop on both engines, naming topic, partition,
the committed offset and the broker's earliest/end offsets; ``fail_on_data_loss: false``
continues from the earliest offset and says so; ``kappa stream status`` shows the condition.

The broker here (Tansu) cannot delete records, so "past the log end" is made by deleting the
topic and re-creating it with fewer records, as a broker that lost its log would look.
"""

from __future__ import annotations

import textwrap

import pytest

from kappa.cli import main
from kappa.delta.read import read_delta
from kappa.kafka.data_loss import DataLossError, OffsetGap, find_gaps, resume_offsets
from kappa.testing.kafka import conf_for, produce
from tests.helpers.pipelines import kafka_bronze

HINT = "set fail_on_data_loss: false (Spark option failOnDataLoss) to continue from the earliest offset"

PIPELINE = kafka_bronze("loss", source=(("schema", '"id BIGINT"{extra}'),),
                        select="SELECT value.id AS id, `partition`, `offset` FROM {{df}}")


# ---------------------------------------------------------------- the shared check
def test_gaps_and_messages():
    bounds = {("orders", 0): (0, 30), ("orders", 1): (10, 40), ("orders", 2): (0, 5)}
    committed = {("orders", 0): 120, ("orders", 1): 4, ("orders", 2): 5, ("orders", 3): 7}
    gaps = find_gaps(committed, bounds)
    assert gaps == [
        OffsetGap("orders", 0, 120, 0, 30),
        OffsetGap("orders", 1, 4, 10, 40),
        OffsetGap("orders", 3, 7, None, None),
    ]
    assert [g.describe() for g in gaps] == [
        ("topic 'orders' partition 0: committed offset 120 is past the log end 30 (earliest 0): the topic was "
        "re-created, truncated or the broker lost its log"),
        ("topic 'orders' partition 1: committed offset 4 is before the earliest available offset 10 (log end 40): "
        "6 offset(s) were deleted (retention) before they were read"),
        ("topic 'orders' partition 3: committed offset 7 is in a partition that no longer exists: the topic was "
        "deleted or re-created with fewer partitions"),
    ]
    with pytest.raises(DataLossError) as info:
        resume_offsets(committed, bounds, node="brz")
    assert str(info.value) == "node 'brz': " + "; ".join(g.describe() for g in gaps) + "; " + HINT
    assert info.value.exit_code == 1

    resumed = resume_offsets(committed, bounds, fail_on_data_loss=False)
    assert resumed.offsets == {("orders", 0): 0, ("orders", 1): 10, ("orders", 2): 5}
    assert resumed.skipped == 6
    assert resume_offsets({("orders", 2): 3}, bounds).offsets == {("orders", 2): 3}
    assert resume_offsets({("orders", 2): 3}, bounds).gaps == []


# ---------------------------------------------------------------- both engines
def _recreate(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient

    from kappa.kafka.writer import create_topic

    admin = AdminClient(conf_for(bootstrap))
    admin.delete_topics([topic], operation_timeout=30)[topic].result(timeout=30)
    create_topic(conf_for(bootstrap), topic, 1)


def _run(engine: str, path: str) -> None:
    if engine == "polars":
        main(["replay", path])
    else:
        main(["run", path, "--profile", "python"])


def _bronze(root) -> list[tuple[int, int]]:
    table = read_delta(str(root / "brz"))
    return sorted(zip(table["id"].to_pylist(), table["offset"].to_pylist()))


@pytest.mark.kafka
def test_offsets_past_the_log_end(engine, tmp_path, kafka_bootstrap, make_topic, capsys):
    if engine.name == "spark":
        assert engine.spark is not None  # started here: the CLI's ``run`` reuses this SparkSession
    topic = make_topic(partitions=1)
    path = tmp_path / "pipeline.yaml"

    def write(extra: str = "") -> str:
        path.write_text(textwrap.dedent(PIPELINE).format(root=tmp_path, bootstrap=kafka_bootstrap, topic=topic, extra=extra))
        return str(path)

    produce(kafka_bootstrap, topic, [{"id": i} for i in range(10)])
    _run(engine.name, write())
    assert _bronze(tmp_path) == [(i, i) for i in range(10)]

    # the broker "lost its log": 4 new records at offsets 0..3, the checkpoint says 10
    _recreate(kafka_bootstrap, topic)
    produce(kafka_bootstrap, topic, [{"id": 100 + i} for i in range(4)])
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        _run(engine.name, write())
    assert info.value.code == 1
    message = (
        f"topic '{topic}' partition 0: committed offset 10 is past the log end 4 (earliest 0): the topic was "
        f"re-created, truncated or the broker lost its log; {HINT}"
    )
    prefix = "node 'brz': " if engine.name == "polars" else "node 'brz' failed: "
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {prefix}{message}"
    assert _bronze(tmp_path) == [(i, i) for i in range(10)]

    if engine.name == "spark":
        main(["stream", "status", write(), "--select", "brz"])
        out = capsys.readouterr().out
        assert f"  data loss: {message.split('; ')[0]}; the next start fails" in out

    # fail_on_data_loss: false -> the new log is read from its earliest offset, and reported
    _run(engine.name, write("\n    fail_on_data_loss: false"))
    assert _bronze(tmp_path) == [(i, i) for i in range(10)] + [(100 + i, i) for i in range(4)]
    out = capsys.readouterr().out
    if engine.name == "polars":
        assert f"    data loss: {message.split('; ')[0]}; continued from the earliest offset" in out.splitlines()
        assert "offset(s) skipped" not in out  # a re-created log is read whole: nothing skipped

    # and it goes on normally from there
    produce(kafka_bootstrap, topic, [{"id": 200}])
    _run(engine.name, write("\n    fail_on_data_loss: false"))
    assert _bronze(tmp_path)[-1] == (200, 4)
    assert len(_bronze(tmp_path)) == 15


@pytest.mark.kafka
def test_status_shows_offsets_out_of_range(tmp_path, kafka_bootstrap, make_topic, capsys):
    from tests.helpers.checkpoints import write_checkpoint

    topic = make_topic(partitions=1)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(3)])
    path = tmp_path / "pipeline.yaml"
    path.write_text(textwrap.dedent(PIPELINE).format(root=tmp_path, bootstrap=kafka_bootstrap, topic=topic, extra=""))
    write_checkpoint(tmp_path / "ck/loss/brz/spark", [(0, {topic: {"0": 8}}, 1795442069631)], committed=0)
    main(["stream", "status", str(path)])
    assert capsys.readouterr().out == (
        "pipeline loss\n"
        "node brz  (source: kafka)\n"
        f"  checkpoint: {tmp_path}/ck/loss/brz/spark\n"
        "  last batch: 0 at 2026-11-23T13:54:29.631Z\n"
        f"  committed offsets: {topic}[0]=8\n"
        f"  end offsets: {topic}[0]=3\n"
        f"  lag: 0 ({topic}[0]=0)\n"
        f"  data loss: topic '{topic}' partition 0: committed offset 8 is past the log end 3 (earliest 0): the topic "
        "was re-created, truncated or the broker lost its log; the next start fails (fail_on_data_loss: true) or "
        "continues from the earliest offset\n"
    )
