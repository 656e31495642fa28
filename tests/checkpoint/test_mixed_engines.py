"""The same pipeline through ``replay``, ``run``, ``replay``, ``stream start --until-idle`` in
turn, new records between each (issue 7, section 3, item 1.1).

Design: a node belongs to the engine whose checkpoint holds its progress; its tables carry that
engine's app ids (``kappa:<engine>:<pipeline>:<node>:sink<i>``). A run on the other engine stops
before writing (exit 2) with one message naming the owning checkpoint and tables and what to
do; tables stay exactly as they were. So here: replay writes, run refuses, replay writes,
stream start refuses; ``run --full-refresh`` moves the nodes to Spark (rebuilt from the whole
topic), then stream start writes and replay refuses. Every Delta sink is checked row by row
after every step.
"""

from __future__ import annotations

import textwrap

import pytest
from deltalake import DeltaTable

from kappa.checkpoint.ownership import planned_batch
from kappa.testing.kafka import produce
from tests.helpers.pipelines import downstream, kafka_bronze

from .helpers import run

pytestmark = [pytest.mark.spark, pytest.mark.kafka]

PIPELINE = kafka_bronze(
    "mx", source=(("schema", '"id BIGINT, name STRING"'),), select="SELECT value.id AS id, value.name AS name FROM {{df}}",
    downstream=downstream("slv", "brz", "SELECT id, upper(name) AS name FROM {{df}}")
    + downstream("gold", "slv", "SELECT count(*) AS n, max(id) AS top FROM {{df}}", as_stream=False),
)

TABLES = ("brz", "slv", "gold")


def cli(capsys, *argv: str) -> tuple[int, str]:
    """``kappa ARGV`` in this process: (exit code, stderr)."""
    code, _out, err = run(capsys, *argv)
    return code, err


def assert_tables(root, n: int) -> None:
    def rows(name, key):
        return sorted(DeltaTable(str(root / name)).to_pyarrow_table().to_pylist(), key=lambda r: r[key])

    assert rows("brz", "id") == [{"id": i, "name": f"n{i}"} for i in range(n)]
    assert rows("slv", "id") == [{"id": i, "name": f"N{i}"} for i in range(n)]
    assert rows("gold", "n") == [{"n": n, "top": n - 1}]


def versions(root) -> tuple:
    return tuple(DeltaTable(str(root / t)).version() for t in TABLES)


def refusal(root, owner: str, engine: str) -> list[str]:
    """The exact refusal: one line per node, naming the owner's checkpoint and tables."""
    command = {"polars": "kappa replay", "spark": "kappa run / kappa stream start"}[owner]
    ck = root / "ck" / "mx"
    lines = []
    for i, node in enumerate(TABLES):
        folder = {"polars": "replay", "spark": "spark"}[owner]
        parts = [f"{ck / node / folder} up to batch {planned_batch(str(ck / node), owner)}"]
        app = f"kappa:{owner}:mx:{node}:sink0"
        parts.append(f"sink 0 {root / node} written by {app} up to batch {DeltaTable(str(root / node)).transaction_version(app)}")
        if node == "brz":
            dead = ck / "brz" / "dead_letters"
            dead_app = f"kappa:{owner}:mx:brz:dead_letters"
            if (dead / "_delta_log").is_dir() and DeltaTable(str(dead)).transaction_version(dead_app) is not None:
                parts.append(f"dead letters {dead} written by {dead_app} up to batch {DeltaTable(str(dead)).transaction_version(dead_app)}")
        prefix = "error: " if i == 0 else ""
        lines.append(
            f"{prefix}node {node!r}: its checkpoint and tables belong to the {owner} engine ({'; '.join(parts)}). "
            f"Run it with {command}, or rebuild it on {engine} with --full-refresh {node}"
        )
    return lines


def test_replay_run_replay_stream_start(spark, tmp_path, kafka_bootstrap, make_topic, capsys):
    topic = make_topic(partitions=2)
    path = tmp_path / "pipeline.yaml"
    path.write_text(textwrap.dedent(PIPELINE).format(root=tmp_path, bootstrap=kafka_bootstrap, topic=topic))
    path = str(path)

    def more(a: int, b: int) -> None:
        produce(kafka_bootstrap, topic, [{"id": i, "name": f"n{i}"} for i in range(a, b)], key="id")

    run = ("run", path, "--profile", "python")
    start = ("stream", "start", path, "--until-idle", "--profile", "python", "--refresh", "0.5")

    more(0, 5)
    assert cli(capsys, "replay", path)[0] == 0  # writes
    assert_tables(tmp_path, 5)

    more(5, 10)
    before = versions(tmp_path)
    code, err = cli(capsys, *run)  # refuses: the tables belong to the replay checkpoints
    assert (code, err.splitlines()) == (2, refusal(tmp_path, "polars", "spark"))
    assert versions(tmp_path) == before
    assert_tables(tmp_path, 5)

    more(10, 15)
    assert cli(capsys, "replay", path)[0] == 0  # writes everything since its own last batch
    assert_tables(tmp_path, 15)

    more(15, 20)
    before = versions(tmp_path)
    code, err = cli(capsys, *start)  # refuses like run
    assert (code, err.splitlines()) == (2, refusal(tmp_path, "polars", "spark"))
    assert versions(tmp_path) == before
    assert_tables(tmp_path, 15)

    # moving the pipeline to Spark: rebuild brz (slv, streaming from it, comes along) and gold
    code, err = cli(capsys, *run, "--full-refresh", "brz", "--full-refresh", "gold", "--yes")
    assert code == 0, err
    assert "  node slv (streams from 'brz', which is rebuilt):" in err.splitlines()
    assert_tables(tmp_path, 20)

    more(20, 25)
    code, err = cli(capsys, *start)  # writes: Spark owns every node now
    assert code == 0, err
    assert_tables(tmp_path, 25)

    more(25, 30)
    before = versions(tmp_path)
    code, err = cli(capsys, "replay", path)  # refuses: the tables belong to the Spark checkpoints
    assert (code, err.splitlines()) == (2, refusal(tmp_path, "spark", "polars"))
    assert versions(tmp_path) == before
    assert_tables(tmp_path, 25)
