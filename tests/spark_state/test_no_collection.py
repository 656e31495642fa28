"""A stateful node's data path never passes through the driver: a node (watermark + streaming
dedup + Delta append) over a source far bigger than ``spark.driver.maxResultSize=1m`` runs in its
own Spark session, while collecting the same rows fails (the control)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path
    import pyarrow as pa, pyarrow.compute as pc
    from deltalake import write_deltalake
    from kappa.engines.spark.engine import SparkEngine
    from kappa.engines.spark.session import get_or_create_session
    from kappa.plan import build_plan
    from tests.spark_state.helpers import T0, node_yaml, pipeline

    root = Path(sys.argv[1])
    n = 200_000
    ids = pa.array(range(n), pa.int64())
    table = pa.table({"k": pc.cast(ids, pa.string()), "ts": pa.array([T0] * n, pa.timestamp("us", "UTC")),
                      "v": ids, "payload": pa.array(["x" * 100] * n)})
    write_deltalake(str(root / "src"), table, mode="append")
    spark = get_or_create_session(master="local[2]", app_name="kappa-state-no-collect",
                                  conf={"spark.driver.maxResultSize": "1m"})
    try:
        spark.read.format("kappa_delta").load(str(root / "src")).collect()
        print("COLLECTED")
    except Exception as exc:
        print("COLLECT REFUSED" if "maxResultSize" in str(exc) else "OTHER " + str(exc)[:300])
    wm = "{{func_name: with_watermark, func_kwargs: {{column: ts, delay: 10 minutes}}}}"
    dedup = "{{func_name: drop_duplicates, func_kwargs: {{subset: [k]}}}}"
    pl = pipeline(root, [node_yaml("big", [wm, dedup])])
    plan = build_plan(pl)
    assert plan.node("big").state is not None
    summary = SparkEngine(spark=spark, profile="python").run(pl, plan)
    print("ROWS", summary.node("big").output_rows, summary.node("big").state_rows)
    spark.stop()
''')


@pytest.mark.slow  # its own Spark session (~30 s)
def test_stateful_node_runs_under_a_small_max_result_size(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    done = subprocess.run([sys.executable, "-c", _SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=600, env=env, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert "COLLECT REFUSED" in lines, done.stdout
    assert "ROWS 200000 200000" in lines, done.stdout
