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
                 trigger: str | None = None, node: str = "brz", checkpoints: str = "ck",
                 copies: tuple[str, ...] = (), variables: tuple[tuple[str, str], ...] = (),
                 bootstrap: str = "{bootstrap}") -> str:
    """The template of a pipeline ``name`` (checkpoints ``{root}/<checkpoints>``, pipeline
    ``variables`` (name, value)) whose first node ``node`` reads topic ``{topic}`` of
    ``bootstrap`` (plus the ``source`` options, in order: e.g. ``("schema", '"id BIGINT"')``),
    runs the SQL step ``select`` (``{{df}}``), checks ``expectations`` (name, expr, action) and
    appends to the Delta table ``{root}/<node>`` (and ``{root}/<copy>`` for each of ``copies``);
    ``downstream`` (nodes from :func:`downstream`) follows, ``trigger`` is the pipeline's
    processing time."""
    lines = ["", f"name: {name}", f"checkpoint_root: {{root}}/{checkpoints}"]
    if trigger:
        lines += ["trigger:", f"  processing_time: {trigger}"]
    if variables:
        lines += ["variables:"] + [f"  {var}: {value}" for var, value in variables]
    lines += ["nodes:", f"- name: {node}", "  source:", f"    bootstrap_servers: {bootstrap}", "    topic: {topic}"]
    lines += [f"    {key}: {value}" for key, value in source]
    if select:
        lines += ["  transformer:", f"  - expr: {select}"]
    lines += _expectations(expectations)
    lines += ["  sinks:"] + [line for table in (node, *copies) for line in ("  - format: DELTA", f"    path: {{root}}/{table}")]
    return "\n".join(lines) + "\n" + downstream


def downstream(name: str, source_node: str, select: str | None = None, as_stream: bool = True,
               table: str | None = None, steps: tuple[str, ...] = (),
               expectations: tuple[tuple[str, str, str], ...] = (), quarantine: str | None = None) -> str:
    """A template node ``name`` reading node ``source_node`` (as a stream or whole), with the SQL
    step ``select`` then the transformer ``steps`` (YAML flow mappings, e.g.
    ``"{{func_name: unique}}"``), checking ``expectations`` (name, expr, action), into the Delta
    table ``{root}/<table or name>`` (and its quarantined rows into ``{root}/<quarantine>``)."""
    lines = [f"- name: {name}", "  source:", f"    node_name: {source_node}", f"    as_stream: {str(as_stream).lower()}"]
    if select or steps:
        lines += ["  transformer:"] + ([f"  - expr: {select}"] if select else []) + [f"  - {step}" for step in steps]
    lines += _expectations(expectations)
    lines += ["  sinks:", "  - format: DELTA", f"    path: {{root}}/{table or name}"]
    if quarantine:
        lines += ["  - format: DELTA", f"    path: {{root}}/{quarantine}", "    is_quarantine: true"]
    return "\n".join(lines) + "\n"


def _expectations(expectations: tuple[tuple[str, str, str], ...]) -> list[str]:
    lines = ["  expectations:"] if expectations else []
    for exp_name, expr, action in expectations:
        lines += [f"  - name: {exp_name}", f"    expr: {expr}", f"    action: {action}"]
    return lines


#: Kafka JSON (``id, symbol, price``; bootstrap through a variable) -> bronze ``brz`` (Delta
#: ``brz`` and ``brz_copy``) -> streaming silver ``slv`` (upper-cased symbol; a null symbol is
#: dropped, a price <= 0 quarantined to ``slv_quarantine``). Fields: root, bootstrap, topic.
KAFKA_BRONZE_SILVER = kafka_bronze(
    "replay-test", checkpoints="checkpoints", variables=(("bootstrap", "{bootstrap}"),), bootstrap="${{vars.bootstrap}}",
    source=(("value_format", "json"), ("schema", '"id BIGINT, symbol STRING, price DOUBLE"')),
    select="SELECT value.id AS id, value.symbol AS symbol, value.price AS price, `partition`, `offset` FROM {{df}}",
    copies=("brz_copy",),
    downstream=downstream("slv", "brz", "SELECT id, upper(symbol) AS symbol, price FROM {{df}}",
                          expectations=(("has_symbol", "symbol IS NOT NULL", "drop"), ("positive_price", "price > 0", "quarantine")),
                          quarantine="slv_quarantine"),
)

# The kill -9 tests' pipeline (a Kafka bronze node with two Delta sinks and a streaming silver
# node), shared by tests/spark_engine/test_crash.py and tests/cluster/test_cluster_crash.py.
# Fields: root, bootstrap, topic.
CRASH_PIPELINE = kafka_bronze(
    "crash", checkpoints="checkpoints", source=(("schema", '"id BIGINT"'), ("max_offsets_per_trigger", "100")),
    select="SELECT value.id AS id, `partition`, `offset` FROM {{df}}", copies=("brz_copy",),
    downstream=downstream("slv", "brz", "SELECT id, id * 2 AS twice FROM {{df}}"),
)
