"""Change management on the replay engine (issue 7, item 1.5): the same verdicts as Spark,
``kappa plan`` exit 3, orphans reported, ``--full-refresh`` listing / ``--yes`` / did-you-mean /
downstream streaming nodes, a batch node's aggregate change is safe."""

from __future__ import annotations

import sys

import pytest

from tests.helpers.pipelines import kafka_bronze

from .helpers import add_file, rows, run, version, write_pipeline


def versions(root) -> tuple:
    return tuple(version(root / t) for t in ("brz", "slv", "gold"))


def test_plan_exit_codes_batch_node_aggregate_change_and_orphans(tmp_path, capsys):
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(4))
    assert run(capsys, "plan", path)[:2] == (0, "pipeline ck: what starting the stream would do\n  brz: new\n  slv: new\n  gold: new\n")
    assert run(capsys, "replay", path)[0] == 0
    assert rows(tmp_path / "gold", "n") == [{"n": 4}]
    code, out, _ = run(capsys, "plan", path)
    assert (code, out.splitlines()[1:]) == (0, ["  brz: unchanged", "  slv: unchanged", "  gold: unchanged"])

    # gold re-reads its whole source on each run: another aggregate is a safe change
    path = write_pipeline(tmp_path, gold_sql="SELECT count(*) AS n, max(id) AS top FROM {df}")
    code, out, _ = run(capsys, "plan", path)
    assert (code, out.splitlines()[1:]) == (0, [
        "  brz: unchanged", "  slv: unchanged",
        "  gold: safe change (steps changed (stateful ones too); the node re-reads its whole source on each run: no state to lose)",
    ])
    add_file(tmp_path, "b", range(4, 6))
    assert run(capsys, "replay", path)[0] == 0
    assert rows(tmp_path / "gold", "n") == [{"n": 6, "top": 5}]

    # a stateful step added to a streaming node cannot be resumed: plan exits 3, replay refuses
    streaming_agg = write_pipeline(tmp_path, gold_sql="SELECT count(*) AS n, max(id) AS top FROM {df}")
    text = open(streaming_agg).read().replace("SELECT id, upper(name) AS name FROM {df}", "SELECT DISTINCT id, upper(name) AS name FROM {df}")
    open(streaming_agg, "w").write(text)
    code, out, _ = run(capsys, "plan", path)
    assert code == 3
    assert out.splitlines()[2] == "  slv: needs full refresh (step 0 adds or changes a stateful operator (DISTINCT))"
    before = versions(tmp_path)
    code, _, err = run(capsys, "replay", path)
    assert code == 2
    assert err.splitlines() == [
        "error: refusing to start: the polars checkpoints of these nodes cannot be resumed:",
        "  slv: needs full refresh (step 0 adds or changes a stateful operator (DISTINCT))",
        "reset them (checkpoint and sinks are deleted, input is re-read) with: --full-refresh slv",
    ]
    assert versions(tmp_path) == before

    # a removed node is reported, not blocking
    path = write_pipeline(tmp_path, gold_sql="SELECT count(*) AS n, max(id) AS top FROM {df}")
    text = open(path).read()
    open(path, "w").write(text[: text.index("- name: gold")])
    code, out, _ = run(capsys, "plan", path)
    assert (code, out.splitlines()[1:]) == (0, [
        "  brz: unchanged", "  slv: unchanged",
        "  gold: orphaned checkpoint (checkpoint of node 'gold', which no longer exists (renamed or removed?); "
        "not run, not blocking; delete it and its sinks with --full-refresh gold)",
    ])
    add_file(tmp_path, "c", range(6, 7))
    code, _, err = run(capsys, "--quiet", "replay", path)
    assert code == 0
    assert err.splitlines() == [
        "note: checkpoint 'gold' belongs to no node of pipeline 'ck' (renamed or removed?); not run; "
        "delete it and its sinks with --full-refresh gold"
    ]
    assert [r["id"] for r in rows(tmp_path / "slv")] == list(range(7))


def test_renamed_node_writing_the_old_table_is_refused(tmp_path, capsys):
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(3))
    assert run(capsys, "replay", path)[0] == 0
    path = write_pipeline(tmp_path, silver="silver")
    code, _, err = run(capsys, "replay", path)
    assert code == 2
    assert err.splitlines()[-1] == (
        f"error: node 'silver': sink 0 {tmp_path / 'slv'} was written by the checkpoint of node 'slv', which no longer "
        f"exists (renamed?). Rebuild the table with --full-refresh slv (deletes that checkpoint and the table)"
    )
    code, _, err = run(capsys, "replay", path, "--full-refresh", "slv", "--yes")
    assert code == 0, err
    assert err.splitlines()[:4] == ["--full-refresh will delete:", "  node slv (orphaned checkpoint):", f"    {tmp_path / 'ck' / 'ck' / 'slv'}", f"    {tmp_path / 'slv'}"]
    assert rows(tmp_path / "slv") == [{"id": i, "name": f"N{i}"} for i in range(3)]


def test_full_refresh_lists_needs_yes_suggests_names_and_takes_downstream_streams(tmp_path, capsys):
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(3))
    assert run(capsys, "replay", path)[0] == 0
    add_file(tmp_path, "b", range(3, 5))
    before = versions(tmp_path)

    code, _, err = run(capsys, "replay", path, "--full-refresh", "brzz")
    assert (code, err.strip()) == (2, "error: --full-refresh brzz: no node or checkpoint named 'brzz'; did you mean 'brz'?")

    assert not sys.stdin.isatty()
    listing = [
        "--full-refresh will delete:",
        "  node brz:",
        f"    {tmp_path / 'ck' / 'ck' / 'brz'}",
        f"    {tmp_path / 'brz'}",
        "  node slv (streams from 'brz', which is rebuilt):",
        f"    {tmp_path / 'ck' / 'ck' / 'slv'}",
        f"    {tmp_path / 'slv'}",
    ]
    code, _, err = run(capsys, "replay", path, "--full-refresh", "brz")
    assert code == 2
    assert err.splitlines() == listing + [
        "error: --full-refresh deletes what is listed above: pass --yes to confirm (stdin is not a terminal); nothing was deleted"
    ]
    assert versions(tmp_path) == before

    code, out, err = run(capsys, "--quiet", "replay", path, "--full-refresh", "brz", "--yes")
    assert code == 0, err
    assert err.splitlines() == listing
    # brz and slv rebuilt from every file, once; gold (re-reads slv) follows
    assert rows(tmp_path / "brz") == [{"id": i, "name": f"n{i}"} for i in range(5)]
    assert rows(tmp_path / "slv") == [{"id": i, "name": f"N{i}"} for i in range(5)]
    assert rows(tmp_path / "gold", "n") == [{"n": 5}]
    assert (version(tmp_path / "brz"), version(tmp_path / "slv")) == (0, 0)


@pytest.mark.kafka
def test_replay_refuses_a_changed_topic(tmp_path, capsys, kafka_bootstrap, make_topic):
    from kappa.testing.kafka import produce

    template = kafka_bronze("tp", source=(("schema", '"id BIGINT"'),), select="SELECT value.id AS id FROM {{df}}")
    first, second = make_topic(partitions=2), make_topic(partitions=1)
    produce(kafka_bootstrap, first, [{"id": i} for i in range(5)], key="id")
    produce(kafka_bootstrap, second, [{"id": 100 + i} for i in range(3)])
    path = tmp_path / "pipeline.yaml"
    path.write_text(template.format(root=tmp_path, bootstrap=kafka_bootstrap, topic=first))
    assert run(capsys, "replay", str(path))[0] == 0
    assert rows(tmp_path / "brz") == [{"id": i} for i in range(5)]

    path.write_text(template.format(root=tmp_path, bootstrap=kafka_bootstrap, topic=second))
    reason = f"source topics changed from {first} to {second}"
    code, out, _ = run(capsys, "plan", str(path))
    assert (code, out.splitlines()[1:]) == (3, [f"  brz: needs full refresh ({reason})"])
    code, _, err = run(capsys, "replay", str(path))
    assert code == 2
    assert err.splitlines() == [
        "error: refusing to start: the polars checkpoints of these nodes cannot be resumed:",
        f"  brz: needs full refresh ({reason})",
        "reset them (checkpoint and sinks are deleted, input is re-read) with: --full-refresh brz",
    ]
    assert rows(tmp_path / "brz") == [{"id": i} for i in range(5)]  # the two topics are not mixed
    assert run(capsys, "replay", str(path), "--full-refresh", "brz", "--yes")[0] == 0
    assert rows(tmp_path / "brz") == [{"id": 100 + i} for i in range(3)]
