"""Builders of the pipeline shapes the tests repeat: YAML templates rendered under a test's
folder (``{root}`` and the other ``str.format`` fields filled in; ``{{df}}`` stays ``{df}``).

- :func:`kafka_bronze` (+ :func:`downstream`): a Kafka bronze node into one Delta table, and
  nodes reading a node (the one-topic pipelines of the stream, CLI and checkpoint tests);
- :data:`KAFKA_BRONZE_SILVER`: Kafka JSON -> bronze (two Delta sinks) -> streaming silver with
  a drop and a quarantine expectation (:func:`tests.helpers.records.price_records` feeds it);
- :data:`CRASH_PIPELINE`: the kill -9 tests' Kafka bronze (two Delta sinks) -> silver;
- CDC replication configs: :func:`tests.helpers.debezium.write_config`;
- change-feed MERGE pipelines: ``tests/cdc_spark/cdc_spark_util.merge_pipeline``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any


def render(template: str, root: Path, **fmt: Any) -> str:
    """``template`` dedented with ``{root}`` and ``fmt`` substituted."""
    return textwrap.dedent(template).format(root=root, **fmt)


def pipeline_for(template: str, root: Path, **fmt: Any):
    """The pipeline of ``template`` (``{root}`` and ``fmt`` substituted) rooted at ``root``;
    its YAML is written to ``root/pipeline.yaml`` (error messages name it)."""
    from kappa.config.loader import load_pipeline_text

    root.mkdir(parents=True, exist_ok=True)
    text = render(template, root, **fmt)
    (root / "pipeline.yaml").write_text(text)
    return load_pipeline_text(text, path=str(root / "pipeline.yaml"))


def write_pipeline(template: str, root: Path, name: str = "pipeline.yaml", **fmt: Any) -> Path:
    """Write the rendered ``template`` to ``root/name`` (for tests that run a YAML file)."""
    path = Path(root) / name
    path.write_text(render(template, root, **fmt))
    return path


def kafka_bronze(name: str, source: tuple[tuple[str, str], ...] = (), select: str | None = None,
                 expectations: tuple[tuple[str, str, str], ...] = (), downstream: str = "",
                 trigger: str | None = None, node: str = "brz") -> str:
    """The template of a pipeline ``name`` (checkpoints ``{root}/ck``) whose first node ``node``
    reads topic ``{topic}`` of ``{bootstrap}`` (plus the ``source`` options, in order: e.g.
    ``("schema", '"id BIGINT"')``), runs the SQL step ``select`` (``{{df}}``), checks
    ``expectations`` (name, expr, action) and appends to the Delta table ``{root}/<node>``;
    ``downstream`` (nodes from :func:`downstream`) follows, ``trigger`` is the pipeline's
    processing time."""
    lines = ["", f"name: {name}", "checkpoint_root: {root}/ck"]
    if trigger:
        lines += ["trigger:", f"  processing_time: {trigger}"]
    lines += ["nodes:", f"- name: {node}", "  source:", "    bootstrap_servers: {bootstrap}", "    topic: {topic}"]
    lines += [f"    {key}: {value}" for key, value in source]
    if select:
        lines += ["  transformer:", f"  - expr: {select}"]
    if expectations:
        lines += ["  expectations:"]
        for exp_name, expr, action in expectations:
            lines += [f"  - name: {exp_name}", f"    expr: {expr}", f"    action: {action}"]
    lines += ["  sinks:", "  - format: DELTA", f"    path: {{root}}/{node}"]
    return "\n".join(lines) + "\n" + downstream


def downstream(name: str, source_node: str, select: str | None = None, as_stream: bool = True,
               table: str | None = None) -> str:
    """A template node ``name`` reading node ``source_node`` (as a stream or whole), with the SQL
    step ``select``, into the Delta table ``{root}/<table or name>``."""
    lines = [f"- name: {name}", "  source:", f"    node_name: {source_node}", f"    as_stream: {str(as_stream).lower()}"]
    if select:
        lines += ["  transformer:", f"  - expr: {select}"]
    lines += ["  sinks:", "  - format: DELTA", f"    path: {{root}}/{table or name}"]
    return "\n".join(lines) + "\n"


#: Kafka JSON (``id, symbol, price``; bootstrap through a variable) -> bronze ``brz`` (Delta
#: ``brz`` and ``brz_copy``) -> streaming silver ``slv`` (upper-cased symbol; a null symbol is
#: dropped, a price <= 0 quarantined to ``slv_quarantine``). Fields: root, bootstrap, topic.
KAFKA_BRONZE_SILVER = """
name: replay-test
checkpoint_root: {root}/checkpoints
variables:
  bootstrap: {bootstrap}
nodes:
- name: brz
  source:
    bootstrap_servers: ${{vars.bootstrap}}
    topic: {topic}
    value_format: json
    schema: "id BIGINT, symbol STRING, price DOUBLE"
  transformer:
  - expr: SELECT value.id AS id, value.symbol AS symbol, value.price AS price, `partition`, `offset` FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/brz
  - format: DELTA
    path: {root}/brz_copy
- name: slv
  source:
    node_name: brz
    as_stream: true
  transformer:
  - expr: SELECT id, upper(symbol) AS symbol, price FROM {{df}}
  expectations:
  - name: has_symbol
    expr: symbol IS NOT NULL
    action: drop
  - name: positive_price
    expr: price > 0
    action: quarantine
  sinks:
  - format: DELTA
    path: {root}/slv
  - format: DELTA
    path: {root}/slv_quarantine
    is_quarantine: true
"""

# The kill -9 tests' pipeline (a Kafka bronze node with two Delta sinks and a streaming silver
# node), shared by tests/spark_engine/test_crash.py and tests/cluster/test_cluster_crash.py.
# Fields: root, bootstrap, topic.
CRASH_PIPELINE = """
name: crash
checkpoint_root: {root}/checkpoints
nodes:
- name: brz
  source:
    bootstrap_servers: {bootstrap}
    topic: {topic}
    schema: "id BIGINT"
    max_offsets_per_trigger: 100
  transformer:
  - expr: SELECT value.id AS id, `partition`, `offset` FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/brz
  - format: DELTA
    path: {root}/brz_copy
- name: slv
  source:
    node_name: brz
    as_stream: true
  transformer:
  - expr: SELECT id, id * 2 AS twice FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/slv
"""
