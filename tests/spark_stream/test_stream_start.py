"""``kappa stream start --until-idle`` and ``kappa plan`` over a real broker, real Delta, real Spark:
exact table contents, verdicts, refusal of unsafe changes, ``--full-refresh``, a failing node."""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable

from kappa.cli import main
from kappa.testing.kafka import produce
from tests.helpers.pipelines import downstream, kafka_bronze

pytestmark = [pytest.mark.spark, pytest.mark.kafka]

PIPELINE = kafka_bronze(
    "st", source=(("schema", '"id BIGINT, name STRING"'),), select="SELECT value.id AS id, value.name AS name FROM {{df}}",
    downstream=downstream("{silver}", "brz", "SELECT id, upper(name) AS name{extra} FROM {{df}}", table="slv"),
)


def rows(path) -> list[dict]:
    return sorted(DeltaTable(str(path)).to_pyarrow_table().to_pylist(), key=lambda r: r["id"])


def start(path: str, *extra: str) -> None:
    main(["stream", "start", path, "--until-idle", "--profile", "python", "--refresh", "0.5", *extra])


def plan(path: str, capsys, exit_code: int = 0) -> list[str]:
    """``kappa plan``'s verdict lines; it exits 3 when a node needs a full refresh."""
    capsys.readouterr()
    try:
        main(["plan", path, "--profile", "python"])
        code = 0
    except SystemExit as exc:
        code = exc.code
    assert code == exit_code
    return capsys.readouterr().out.splitlines()[1:]


def test_until_idle_verdicts_refusal_and_full_refresh(spark, tmp_path, write_pipeline, kafka_bootstrap, make_topic, capsys):
    topic, topic2 = make_topic(partitions=2), make_topic(partitions=1)
    produce(kafka_bootstrap, topic, [{"id": i, "name": f"n{i}"} for i in range(20)], key="id")
    fmt = dict(bootstrap=kafka_bootstrap, topic=topic, silver="slv", extra="")
    path = write_pipeline(PIPELINE, **fmt)
    assert plan(path, capsys) == ["  brz: new", "  slv: new"]

    start(path, "--json")  # the board on stderr, the summary as one JSON document on stdout
    captured = capsys.readouterr()
    assert "stopped: all input consumed" in captured.err
    doc = json.loads(captured.out)
    assert (doc["ok"], doc["stop_reason"], doc["engine"], doc["profile"]) == (True, "all input consumed", "spark (stream)", "python")
    assert [(n["node"], n["status"], n["read_rows"], n["output_rows"]) for n in doc["nodes"]] == [("brz", "ok", 20, 20), ("slv", "ok", 20, 20)]
    assert rows(tmp_path / "brz") == [{"id": i, "name": f"n{i}"} for i in range(20)]
    assert rows(tmp_path / "slv") == [{"id": i, "name": f"N{i}"} for i in range(20)]
    assert plan(path, capsys) == ["  brz: unchanged", "  slv: unchanged"]

    # a stateless SQL change is safe: it starts, continues exactly, records the new fingerprint
    produce(kafka_bootstrap, topic, [{"id": i, "name": f"n{i}"} for i in range(20, 25)], key="id")
    path = write_pipeline(PIPELINE, **{**fmt, "extra": ", length(name) AS len"})
    assert plan(path, capsys) == ["  brz: unchanged", "  slv: safe change (stateless steps changed)"]
    start(path)
    assert rows(tmp_path / "brz") == [{"id": i, "name": f"n{i}"} for i in range(25)]
    assert rows(tmp_path / "slv") == [{"id": i, "name": f"N{i}", "len": None} for i in range(20)] + [
        {"id": i, "name": f"N{i}", "len": 3} for i in range(20, 25)]
    assert plan(path, capsys) == ["  brz: unchanged", "  slv: unchanged"]

    # a new topic cannot resume: refused before anything runs, nothing written
    produce(kafka_bootstrap, topic2, [{"id": 100 + i, "name": f"m{i}"} for i in range(3)])
    path = write_pipeline(PIPELINE, **{**fmt, "topic": topic2, "extra": ", length(name) AS len"})
    reason = f"source topics changed from {topic} to {topic2}"
    assert plan(path, capsys, exit_code=3) == [f"  brz: needs full refresh ({reason})", "  slv: unchanged"]
    versions = DeltaTable(str(tmp_path / "brz")).version(), DeltaTable(str(tmp_path / "slv")).version()
    with pytest.raises(SystemExit) as info:
        start(path)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"brz: needs full refresh ({reason})" in err and "--full-refresh brz" in err
    assert (DeltaTable(str(tmp_path / "brz")).version(), DeltaTable(str(tmp_path / "slv")).version()) == versions
    # resetting brz deletes the table slv streams from: slv is rebuilt with it, and listed
    start(path, "--full-refresh", "brz", "--yes")
    err = capsys.readouterr().err
    assert "  node slv (streams from 'brz', which is rebuilt):" in err
    assert rows(tmp_path / "brz") == [{"id": 100 + i, "name": f"m{i}"} for i in range(3)]
    assert rows(tmp_path / "slv") == [{"id": 100 + i, "name": f"M{i}", "len": 2} for i in range(3)]

    # a renamed node leaves the old node's checkpoint behind: reported, not blocking, but the
    # new node writes the old node's table: refused until the orphan is reset
    path = write_pipeline(PIPELINE, **{**fmt, "topic": topic2, "silver": "silver", "extra": ", length(name) AS len"})
    orphan = ("slv: orphaned checkpoint (checkpoint of node 'slv', which no longer exists (renamed or removed?); "
              "not run, not blocking; delete it and its sinks with --full-refresh slv)")
    assert plan(path, capsys) == ["  brz: unchanged", "  silver: new", f"  {orphan}"]
    with pytest.raises(SystemExit) as info:
        start(path)
    assert info.value.code == 2
    assert (f"error: node 'silver': sink 0 {tmp_path / 'slv'} was written by the checkpoint of node 'slv', which no longer "
            "exists (renamed?). Rebuild the table with --full-refresh slv (deletes that checkpoint and the table)") in capsys.readouterr().err
    start(path, "--full-refresh", "slv", "--yes")
    assert rows(tmp_path / "slv") == [{"id": 100 + i, "name": f"M{i}", "len": 2} for i in range(3)]
    assert plan(path, capsys) == ["  brz: unchanged", "  silver: unchanged"]

FAILING = kafka_bronze("fail", source=(("schema", '"id BIGINT"'),), select="SELECT value.id AS id FROM {{df}}",
                       expectations=(("positive", "id > 0", "fail"),))


def test_a_failing_node_stops_the_stream_with_its_error(spark, tmp_path, write_pipeline, kafka_bootstrap, make_topic, capsys):
    topic = make_topic(partitions=1)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(3)])
    path = write_pipeline(FAILING, bootstrap=kafka_bootstrap, topic=topic)
    with pytest.raises(SystemExit) as info:
        start(path)
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "error: node 'brz' failed: expectation 'positive' failed on 1 row(s); no sink was written" in err
    assert not (tmp_path / "brz").exists()


PER_RUN = kafka_bronze("perrun", source=(("schema", '"id BIGINT"'),), select="SELECT value.id AS id FROM {{df}}",
                       downstream=downstream("total", "brz", "SELECT count(*) AS n, sum(id) AS s FROM {{df}}", as_stream=False))


def test_a_node_that_rereads_its_source_follows_its_upstream(spark, tmp_path, write_pipeline, kafka_bootstrap, make_topic, capsys):
    topic = make_topic(partitions=1)
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(10)])
    path = write_pipeline(PER_RUN, bootstrap=kafka_bootstrap, topic=topic)
    start(path)
    assert rows(tmp_path / "brz") == [{"id": i} for i in range(10)]
    assert DeltaTable(str(tmp_path / "total")).to_pyarrow_table().to_pylist() == [{"n": 10, "s": 45}]
    produce(kafka_bootstrap, topic, [{"id": i} for i in range(10, 15)])
    start(path)
    assert DeltaTable(str(tmp_path / "total")).to_pyarrow_table().to_pylist() == [{"n": 15, "s": 105}]
