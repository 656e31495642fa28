"""``kappa run``: dead letters, a second run writes nothing, a failing node exits non-zero."""

from __future__ import annotations

import textwrap

import pytest
from confluent_kafka import Producer
from deltalake import DeltaTable

from kappa.cli import main
from kappa.delta.read import read_delta
from kappa.testing.kafka import conf_for, produce
from tests.helpers.pipelines import kafka_bronze

pytestmark = [pytest.mark.spark, pytest.mark.kafka]

PIPELINE = kafka_bronze("cli-run", source=(("schema", '"id BIGINT, name STRING"'),),
                        select="SELECT value.id AS id, value.name AS name FROM {{df}}",
                        expectations=(("named", "name IS NOT NULL", "{action}"),))


def _write(tmp_path, name, **fmt):
    path = tmp_path / name
    path.write_text(textwrap.dedent(PIPELINE).format(root=tmp_path, **fmt))
    return str(path)


def test_run_twice_dead_letters_and_exit_codes(spark, tmp_path, kafka_bootstrap, make_topic, capsys):
    topic = make_topic(partitions=1)
    produce(kafka_bootstrap, topic, [{"id": i, "name": f"n{i}"} for i in range(5)])
    producer = Producer(conf_for(kafka_bootstrap))
    producer.produce(topic, value=b'{"id": "x", "name": "bad-type"}', partition=0)  # offset 5
    producer.produce(topic, value=b"not json", partition=0)  # offset 6
    producer.produce(topic, value=None, partition=0)  # offset 7: a tombstone, a dead letter too
    producer.flush()
    ok = _write(tmp_path, "ok.yaml", bootstrap=kafka_bootstrap, topic=topic, action="warn")

    main(["run", ok, "--profile", "python"])
    out = capsys.readouterr().out
    assert "brz" in out and "ok" in out
    rows = read_delta(str(tmp_path / "brz")).to_pylist()
    assert sorted(rows, key=lambda r: r["id"]) == [{"id": i, "name": f"n{i}"} for i in range(5)]
    dead = read_delta(str(tmp_path / "ck/cli-run/brz/dead_letters")).sort_by("offset").to_pylist()
    assert [(d["topic"], d["partition"], d["offset"], d["value"]) for d in dead] == [
        (topic, 0, 5, b'{"id": "x", "name": "bad-type"}'), (topic, 0, 6, b"not json"), (topic, 0, 7, None)]
    assert [d["error"] for d in dead] == [
        "field 'id': \"x\" is not a bigint",
        "invalid JSON: Expecting value at line 1 column 1",
        "null value (tombstone)",
    ]

    version = DeltaTable(str(tmp_path / "brz")).version()
    main(["run", ok, "--profile", "python"])
    assert "no new data" in capsys.readouterr().out
    assert DeltaTable(str(tmp_path / "brz")).version() == version

    # a failing expectation fails the node: exit 1, the node named, nothing written
    failing = _write(tmp_path, "fail.yaml", bootstrap=kafka_bootstrap, topic=topic, action="fail")
    with pytest.raises(SystemExit) as exit_info:
        produce(kafka_bootstrap, topic, [{"id": 9}])  # no name
        main(["run", failing, "--profile", "python", "--full-refresh", "brz", "--yes"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "error: node 'brz' failed: expectation 'named' failed on 1 row(s); no sink was written" in err
    assert "Traceback" not in err
    assert not (tmp_path / "brz").exists()
