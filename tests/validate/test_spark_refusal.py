"""The Spark engine runs `kappa validate`'s static checks before any node starts (issue 12).

Spark itself would accept both steps below (it names `amount * 2` itself and has
`percentile_approx`); the replay refuses them, so the Spark engine refuses them too, before the
first node runs: the valid upstream node commits nothing.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.spark

PIPELINE = """\
name: orders
nodes:
- name: bronze
  source: {path: ./data/, format: JSONL, schema: "id BIGINT, amount DOUBLE"}
  sinks: [{format: DELTA, path: ./out/bronze}]
- name: silver
  source: {node_name: bronze}
  transformer:
  - expr: SELECT id, amount * 2 FROM {df}
  - expr: SELECT percentile_approx(amount, 0.5) AS median FROM {df}
  sinks: [{format: DELTA, path: ./out/silver}]
"""


def test_spark_engine_refuses_before_starting(spark, tmp_path):
    from kappa.config.loader import load_pipeline_file
    from kappa.engines.spark.engine import SparkEngine
    from kappa.plan import build_plan
    from kappa.validate import StaticCheckError

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.jsonl").write_text('{"id": 1, "amount": 2.5}\n')
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    pipeline = load_pipeline_file(tmp_path / "pipeline.yaml")
    with pytest.raises(StaticCheckError) as err:
        SparkEngine(spark=spark, profile="python").run(pipeline, build_plan(pipeline))
    file = tmp_path / "pipeline.yaml"  # located in the file the pipeline came from
    assert str(err.value).splitlines() == [
        f"{file}:9: nodes[1].transformer[0]: give the column 'amount * 2' a name (AS ...): Spark's generated column names "
        "are not reproduced (SQL line 1, column 12)",
        f"{file}:10: nodes[1].transformer[1]: function percentile_approx() is not supported: kappa runs only the functions "
        "it can run with Spark's result on both engines (SQL line 1, column 8)",
    ]
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "checkpoints").exists()
