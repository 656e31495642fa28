"""The pipeline DAG: topological order, dbt-style selection, ``kappa graph`` text and Mermaid."""

from __future__ import annotations

from pathlib import Path

import pytest

from kappa.cli import main
from kappa.config.loader import load_pipeline_file, load_pipeline_text
from kappa.errors import ConfigError
from kappa.graph import Edge, PipelineGraph, build_graph

GRAPH = Path(__file__).parent / "valid" / "graph.yaml"

TEXT = """\
raw_orders
orders  <- raw_orders
raw_customers
customers  <- raw_customers
enriched  <- orders, customers (sql)
report  <- enriched
audit  <- raw_orders"""

MERMAID = """\
graph LR
    n_enriched["enriched"]
    n_report["report"]
    n_orders["orders"]
    n_raw_orders["raw_orders"]
    n_customers["customers"]
    n_raw_customers["raw_customers"]
    n_audit["audit"]
    n_orders --> n_enriched
    n_customers -.-> n_enriched
    n_enriched --> n_report
    n_raw_orders --> n_orders
    n_raw_customers --> n_customers
    n_raw_orders --> n_audit"""


@pytest.fixture(scope="module")
def graph() -> PipelineGraph:
    return build_graph(load_pipeline_file(GRAPH))


def test_edges(graph):
    assert graph.nodes == ("enriched", "report", "orders", "raw_orders", "customers", "raw_customers", "audit")
    assert graph.edges == (
        Edge("orders", "enriched", "source"),
        Edge("customers", "enriched", "sql"),
        Edge("enriched", "report", "source"),
        Edge("raw_orders", "orders", "source"),
        Edge("raw_customers", "customers", "source"),
        Edge("raw_orders", "audit", "source"),
    )


def test_topological_order_is_stable(graph):
    order = graph.topological_order()
    assert order == ["raw_orders", "orders", "raw_customers", "customers", "enriched", "report", "audit"]
    for e in graph.edges:
        assert order.index(e.upstream) < order.index(e.downstream)


@pytest.mark.parametrize(
    "selectors, expected",
    [
        (None, ["raw_orders", "orders", "raw_customers", "customers", "enriched", "report", "audit"]),
        ([], ["raw_orders", "orders", "raw_customers", "customers", "enriched", "report", "audit"]),
        (["enriched"], ["enriched"]),
        (["+enriched"], ["raw_orders", "orders", "raw_customers", "customers", "enriched"]),
        (["enriched+"], ["enriched", "report"]),
        (["+enriched+"], ["raw_orders", "orders", "raw_customers", "customers", "enriched", "report"]),
        (["raw_orders+"], ["raw_orders", "orders", "enriched", "report", "audit"]),
        (["+report"], ["raw_orders", "orders", "raw_customers", "customers", "enriched", "report"]),
        (["report+"], ["report"]),
        (["customers", "audit"], ["customers", "audit"]),
        (["audit,customers"], ["customers", "audit"]),
        (["audit customers"], ["customers", "audit"]),
        (["+customers", "report"], ["raw_customers", "customers", "report"]),
        (["orders+", "+orders"], ["raw_orders", "orders", "enriched", "report"]),
        (["raw_customers+", "audit"], ["raw_customers", "customers", "enriched", "report", "audit"]),
    ],
)
def test_dbt_style_selection(graph, selectors, expected):
    assert graph.select(selectors) == expected


def test_unknown_selector(graph):
    with pytest.raises(ConfigError) as exc:
        graph.select(["+enriched", "nope+"])
    assert exc.value.issues[0].message == (
        "--select nope+: no node named 'nope' "
        "(nodes: enriched, report, orders, raw_orders, customers, raw_customers, audit)"
    )


def test_text_and_mermaid(graph):
    assert graph.to_text() == TEXT
    assert graph.to_mermaid() == MERMAID


@pytest.mark.parametrize("fmt, expected", [("text", TEXT + "\n"), ("mermaid", MERMAID + "\n"), ("both", TEXT + "\n\n" + MERMAID + "\n")])
def test_kappa_graph_output(fmt, expected, capsys):
    main(["graph", str(GRAPH), "--format", fmt])
    out = capsys.readouterr()
    assert out.out == expected
    assert out.err == ""


def test_kappa_graph_default_prints_both(capsys):
    main(["graph", str(GRAPH)])
    assert capsys.readouterr().out == TEXT + "\n\n" + MERMAID + "\n"


def test_kappa_graph_on_a_bad_config_exits_2(capsys, tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text("name: p\nnodes:\n- name: a\n  source: {node_name: b}\n- name: b\n  source: {node_name: a}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["graph", "c.yaml"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "c.yaml:3: nodes[0]: cycle: a -> b -> a\n"


def test_kappa_validate_lists_the_run_order(capsys):
    main(["validate", str(GRAPH)])
    assert capsys.readouterr().out == (
        "ok: pipeline shop with 7 node(s): raw_orders, orders, raw_customers, customers, enriched, report, audit\n"
    )


def test_mermaid_ids_stay_distinct():
    text = """\
name: p
nodes:
- name: a_b
  source: {path: ./in/, format: JSONL}
- name: a-b
  source: {node_name: a_b}
- name: a_b_1
  source: {node_name: a-b}
"""
    assert build_graph(load_pipeline_text(text)).to_mermaid() == """\
graph LR
    n_a_b["a_b"]
    n_a_b_1["a-b"]
    n_a_b_1_1["a_b_1"]
    n_a_b --> n_a_b_1
    n_a_b_1 --> n_a_b_1_1"""


def test_sql_and_source_edge_to_the_same_node_is_one_edge():
    text = """\
name: p
nodes:
- name: a
  source: {path: ./in/, format: JSONL}
- name: b
  source: {node_name: a}
  transformer:
  - expr: SELECT * FROM {df} UNION ALL SELECT * FROM {nodes.a}
"""
    assert build_graph(load_pipeline_text(text)).edges == (Edge("a", "b", "source"),)


def test_cycle_in_a_graph_built_by_hand():
    g = PipelineGraph(nodes=("x", "y"), edges=(Edge("x", "y", "source"), Edge("y", "x", "sql")))
    assert g.find_cycle() == ["x", "y", "x"]
    with pytest.raises(ConfigError) as exc:
        g.topological_order()
    assert exc.value.issues[0].message == "the pipeline has a cycle: x -> y -> x"
