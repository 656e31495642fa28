"""``kappa graph --format dot|svg|png``: sources, nodes and sinks drawn with Graphviz."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kappa.cli import main
from kappa.config.loader import load_pipeline_file
from kappa.graph_draw import to_dot

PIPELINE = """\
name: shop
nodes:
- name: brz
  source: {bootstrap_servers: "${env.NOT_SHOWN}", topics: [orders, returns], options: {sasl.password: "${env.NOT_SHOWN}"}}
  sinks:
  - {path: ./tables/brz, format: DELTA}
- name: slv
  source: {node_name: brz, as_stream: true}
  transformer:
  - expr: SELECT * FROM {df} JOIN {nodes.dim} USING (id)
  expectations:
  - {name: positive, expr: amount > 0, action: quarantine}
  sinks:
  - {path: ./tables/slv, format: DELTA, mode: upsert, keys: [id]}
  - {path: ./tables/slv_quarantine, format: DELTA, is_quarantine: true}
  - {bootstrap_servers: "b:9092", topic: orders-clean}
- name: dim
  source: {path: ./in/dim.csv, format: CSV}
  sinks:
  - {path: ./out/dim/, format: PARQUET}
"""

DOT = """\
digraph shop {
	graph [rankdir=LR]
	node [fontname=Helvetica fontsize=11]
	edge [fontname=Helvetica fontsize=10]
	"source/brz" [label="kafka\\norders, returns" fillcolor="#fff4d6" shape=cds style=filled]
	brz [label=brz fillcolor="#dbe9ff" shape=box style="rounded,filled"]
	"sink/brz/0" [label="delta (append)\\n./tables/brz" fillcolor="#e3f5e1" shape=cylinder style=filled]
	slv [label=slv fillcolor="#dbe9ff" shape=box style="rounded,filled"]
	"sink/slv/0" [label="delta (upsert)\\n./tables/slv" fillcolor="#e3f5e1" shape=cylinder style=filled]
	"sink/slv/1" [label="delta (append)\\n./tables/slv_quarantine" fillcolor="#fde2e1" shape=cylinder style="dashed,filled"]
	"sink/slv/2" [label="kafka\\norders-clean" fillcolor="#e3f5e1" shape=cylinder style=filled]
	"source/dim" [label="files (CSV)\\n./in/dim.csv" fillcolor="#fff4d6" shape=cds style=filled]
	dim [label=dim fillcolor="#dbe9ff" shape=box style="rounded,filled"]
	"sink/dim/0" [label="files (PARQUET)\\n./out/dim/" fillcolor="#e3f5e1" shape=cylinder style=filled]
	"source/brz" -> brz
	"source/dim" -> dim
	brz -> slv
	dim -> slv [label=sql style=dashed]
	brz -> "sink/brz/0"
	slv -> "sink/slv/0"
	slv -> "sink/slv/1" [label=quarantine style=dashed]
	slv -> "sink/slv/2"
	dim -> "sink/dim/0"
}"""

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's `dot` program is not installed (apt-get install graphviz)")


@pytest.fixture
def shop(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("NOT_SHOWN", "s3cret-host:9092")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.yaml").write_text(PIPELINE)
    return tmp_path / "p.yaml"


def test_dot_draws_sources_nodes_and_sinks_without_secrets(shop, capsys):
    assert to_dot(load_pipeline_file(shop)) == DOT
    main(["graph", str(shop), "--format", "dot"])
    out = capsys.readouterr()
    assert (out.out, out.err) == (DOT + "\n", "")
    assert "s3cret" not in out.out


def test_dot_to_a_file(shop, capsys):
    main(["graph", str(shop), "--format", "dot", "--output", "dag.dot"])
    assert capsys.readouterr().out == "wrote dag.dot\n"
    assert Path("dag.dot").read_text() == DOT + "\n"


@needs_dot
def test_svg_has_every_source_node_and_sink(shop, capsysbinary):
    main(["graph", str(shop), "--format", "svg"])
    svg = capsysbinary.readouterr().out.decode()
    assert svg.startswith("<?xml") and svg.rstrip().endswith("</svg>")
    titles = sorted(t.split("</title>")[0] for t in svg.split("<title>")[1:])
    assert titles == sorted([
        "shop", "source/brz", "brz", "sink/brz/0", "slv", "sink/slv/0", "sink/slv/1", "sink/slv/2", "source/dim", "dim",
        "sink/dim/0", "source/brz&#45;&gt;brz", "source/dim&#45;&gt;dim", "brz&#45;&gt;slv", "dim&#45;&gt;slv",
        "brz&#45;&gt;sink/brz/0", "slv&#45;&gt;sink/slv/0", "slv&#45;&gt;sink/slv/1", "slv&#45;&gt;sink/slv/2", "dim&#45;&gt;sink/dim/0",
    ])
    assert "s3cret" not in svg


@needs_dot
def test_png_to_a_file(shop, capsys):
    main(["graph", str(shop), "--format", "png", "-o", "dag.png"])
    assert capsys.readouterr().out == "wrote dag.png\n"
    assert Path("dag.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_needs_an_output_file(shop, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["graph", str(shop), "--format", "png"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: --format png writes binary data: give --output FILE.png\n"


def test_svg_without_graphviz_names_what_to_install(shop, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(shop.parent))  # no `dot` here
    with pytest.raises(SystemExit) as exc:
        main(["graph", str(shop), "--format", "svg"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        "error: --format svg needs Graphviz's `dot` program on PATH (apt-get install graphviz, brew install graphviz, "
        "conda install graphviz); --format dot prints the DOT text without it\n"
    )


def test_unknown_format_exits_2(shop, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["graph", str(shop), "--format", "jpeg"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: --format jpeg: expected one of text, mermaid, both, dot, svg, png\n"
