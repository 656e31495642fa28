"""Engine ownership without Spark (issue 7, item 1.1): app ids carry the engine; a node whose
checkpoint or tables another engine (or an older kappa) wrote is refused before writing. The
real two-engine drill is in ``test_mixed_engines.py``."""

from __future__ import annotations

import pyarrow as pa
from deltalake import DeltaTable

from kappa.cli import main
from kappa.config.loader import load_pipeline_file
from kappa.plan import build_plan

from .helpers import add_file, rows, run, version, write_pipeline


def test_app_ids_carry_the_engine(tmp_path, capsys):
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(2))
    main(["replay", path])
    table = DeltaTable(str(tmp_path / "brz"))
    assert table.transaction_version("kappa:polars:ck:brz:sink0") == 0
    assert table.transaction_version("kappa:ck:brz:sink0") is None
    plan = build_plan(load_pipeline_file(path))
    assert [s.app_id for s in plan.for_engine("spark").node("slv").sinks] == ["kappa:spark:ck:slv:sink0"]


def test_another_engines_checkpoint_is_refused(tmp_path, capsys):
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(2))
    spark_ck = tmp_path / "ck" / "ck" / "brz" / "spark"
    (spark_ck / "offsets").mkdir(parents=True)
    (spark_ck / "offsets" / "0").write_text("v1\n{}\n{}\n")
    (spark_ck / "offsets" / "1").write_text("v1\n{}\n{}\n")
    code, _, err = run(capsys, "replay", path)
    assert code == 2
    assert err.splitlines() == [
        f"error: node 'brz': its checkpoint and tables belong to the spark engine ({spark_ck} up to batch 1). "
        "Run it with kappa run / kappa stream start, or rebuild it on polars with --full-refresh brz"
    ]
    assert version(tmp_path / "brz") is None


def legacy_replay(path: str) -> None:
    """A replay as kappa wrote it before app ids carried the engine (engine-less ids)."""
    from kappa.engines.polars.engine import run_node
    from kappa.summary import NodeRunSummary

    plan = build_plan(load_pipeline_file(path))
    memory: dict = {}
    for node in plan.nodes:
        run_node(node, plan, memory, NodeRunSummary(node.name))


def test_legacy_tables_of_this_engine_continue_other_legacy_tables_are_refused(tmp_path, capsys):
    # an existing replay user upgrades: its own checkpoint covers the legacy transactions
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(3))
    legacy_replay(path)
    assert DeltaTable(str(tmp_path / "brz")).transaction_version("kappa:ck:brz:sink0") == 0
    add_file(tmp_path, "b", range(3, 5))
    assert run(capsys, "replay", path)[0] == 0
    assert rows(tmp_path / "brz") == [{"id": i, "name": f"n{i}"} for i in range(5)]
    assert rows(tmp_path / "slv") == [{"id": i, "name": f"N{i}"} for i in range(5)]
    assert rows(tmp_path / "gold", "n") == [{"n": 5}]

    # a table with legacy transactions beyond this engine's commits cannot be attributed
    other = tmp_path / "other"
    other.mkdir()
    path = write_pipeline(other)
    add_file(other, "a", range(2))
    from kappa.delta.writer import DeltaWriter

    for batch in range(3):
        DeltaWriter(str(other / "brz"), app_id="kappa:ck:brz:sink0").write_arrow(pa.table({"id": [batch], "name": ["x"]}), batch)
    code, _, err = run(capsys, "replay", path)
    assert code == 2
    assert err.splitlines() == [
        f"error: node 'brz': its tables were written by another checkpoint (sink 0 {other / 'brz'} written by "
        "kappa:ck:brz:sink0 up to batch 2 (an older kappa, engine unknown; this polars checkpoint has no committed batch)). "
        "Rebuild it with --full-refresh brz"
    ]
    assert version(other / "brz") == 2


def test_tables_ahead_of_a_deleted_checkpoint_are_refused(tmp_path, capsys):
    import shutil

    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(2))
    main(["replay", path])
    add_file(tmp_path, "b", range(2, 4))
    main(["replay", path])
    shutil.rmtree(tmp_path / "ck" / "ck" / "slv")  # its tables stay
    add_file(tmp_path, "c", range(4, 6))
    code, _, err = run(capsys, "replay", path)
    assert code == 2
    assert err.splitlines() == [
        f"error: node 'slv': its tables are ahead of its polars checkpoint (sink 0 {tmp_path / 'slv'} holds batches up to 1 "
        "of kappa:polars:ck:slv:sink0, its checkpoint no batch): was the checkpoint deleted or replaced? New batches would be "
        "skipped as already written. Rebuild it with --full-refresh slv"
    ]
    assert [r["id"] for r in rows(tmp_path / "slv")] == [0, 1, 2, 3]
