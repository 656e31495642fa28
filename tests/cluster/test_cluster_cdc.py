"""A CDC replication on a multi-process Spark standalone cluster: Debezium topics (the
``inventory`` fixture of tests.helpers.debezium: an SCD2 ``customers`` and an SCD1 ``orders``
table) replicated by ``kappa cdc run`` in a subprocess whose config has a ``spark:`` section
pointing at the cluster. Its mirror tables (and dead letters) equal the Polars replay's row by
row, with the same Delta schemas, and stay equal after a second round of changes.

The decode runs on the executors; the CDC merge sink collects each (small, per-key reduced)
batch to the driver by design (documented in kappa/engines/spark), so this test does not set a
small ``spark.driver.maxResultSize``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from kappa.replication.compiler import plan_replication
from kappa.replication.load import load_replication
from kappa.runner import execute_pipeline
from tests.helpers.cli import kappa_cli
from tests.helpers.debezium import customer, order, read_table, snapshot_and_changes, write_config

pytestmark = [pytest.mark.spark, pytest.mark.kafka, pytest.mark.cluster, pytest.mark.slow]  # ~60 s

SORT = {"customers": ["id", "__START_AT"], "orders": ["id"]}


def cdc_run(config: Path, timeout_s: float = 240) -> subprocess.CompletedProcess:
    """``python -m kappa.cli cdc run CONFIG --profile python`` in a subprocess."""
    return kappa_cli(["cdc", "run"], config, {}, timeout_s=timeout_s)


def mirror(root: Path) -> dict[str, tuple[str, list[dict]]]:
    """Each mirror table's Delta schema (as text) and rows, sorted by key (and SCD2 start)."""
    from deltalake import DeltaTable

    out = {}
    for table, sort in SORT.items():
        path = root / "mirror" / "public" / table
        out[table] = (str(DeltaTable(str(path)).schema().to_arrow()), read_table(path, sort))
    return out


def dead_letters(root: Path) -> list[dict]:
    path = root / "mirror" / "_dead_letters"
    if not path.exists():
        return []
    rows = read_table(path, None)
    return sorted(json.dumps({k: v for k, v in r.items() if k != "failed_at"}, sort_keys=True, default=str) for r in rows)


def assert_same_mirrors(p_root: Path, s_root: Path) -> dict[str, list[dict]]:
    polars, spark = mirror(p_root), mirror(s_root)
    for table in SORT:
        assert spark[table][0] == polars[table][0], f"{table}: schemas differ\npolars: {polars[table][0]}\nspark:  {spark[table][0]}"
        assert spark[table][1] == polars[table][1], f"{table}: rows differ"
    assert dead_letters(s_root) == dead_letters(p_root)
    return {t: rows for t, (_, rows) in polars.items()}


def test_cdc_replication_on_a_standalone_cluster_equals_polars_replay(spark_cluster, inventory, kafka_bootstrap, tmp_path):
    prefix, customers, orders = inventory
    snapshot_and_changes(customers, orders)
    p_root, s_root = tmp_path / "polars", tmp_path / "spark"
    p_root.mkdir()
    s_root.mkdir()
    p_config = write_config(p_root, kafka_bootstrap, prefix)
    spark = {"master": spark_cluster.master_url, "conf": spark_cluster.driver_conf()}
    s_config = write_config(s_root, kafka_bootstrap, prefix, extra=f"spark: {json.dumps(spark)}\n")  # JSON is YAML

    def run_both() -> tuple[dict[str, list[dict]], float]:
        execute_pipeline(plan_replication(load_replication(str(p_config))).pipeline, engine="polars")
        started = time.monotonic()
        done = cdc_run(s_config)
        seconds = time.monotonic() - started
        assert done.returncode == 0, done.stdout + done.stderr[-5000:]
        assert "on spark" in done.stdout, done.stdout
        return assert_same_mirrors(p_root, s_root), seconds

    first, t1 = run_both()
    assert len(first["customers"]) == 5 and [o["id"] for o in first["orders"]] == [1, 3, 4]
    # SCD2: Sally's two versions, George closed by his delete, Edward and Anne open
    open_ids = sorted(r["id"] for r in first["customers"] if r["__END_AT"] is None)
    assert open_ids == [1001, 1003, 1004]

    customers.event("u", customer(1003, "Edward", "Walker", "ed@example.com"),
                    customer(1003, "Edward", "Walker", "edward@example.com"), 300, 3000)
    orders.event("c", None, order(2, 1002, "5.00", "new"), 340, 3400)
    customers.send()
    orders.send()
    second, t2 = run_both()  # resumes from the cluster run's checkpoints
    assert len(second["customers"]) == 6 and [o["id"] for o in second["orders"]] == [1, 2, 3, 4]

    # the decode ran in executors the workers launched, and they could import kappa
    stderrs = sorted(spark_cluster.log_dir.glob("worker-*/app-*/*/stderr"))
    assert stderrs, "no executor ran"
    for path in stderrs:
        assert "ModuleNotFoundError" not in path.read_text(errors="replace"), path
    print(f"kappa cdc run on the cluster: {t1:.1f} s, then {t2:.1f} s")
