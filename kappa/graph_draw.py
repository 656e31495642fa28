"""Drawings of a pipeline: Graphviz DOT text, and SVG or PNG rendered by Graphviz.

Design note. :mod:`kappa.graph` is the DAG of nodes (text and Mermaid); a drawing also shows
what the nodes read and write: every source that is not another node (a Kafka topic, a Delta
table, files) and every sink, quarantine sinks dashed. The DOT text is built with the
``graphviz`` package (pure Python, no binary needed); rendering SVG/PNG needs Graphviz's
``dot`` program (a system package: the ``graphviz`` wheel does not ship it); without it the
error names what to install.
Connection details never appear in a drawing: bootstrap servers and options (secrets) are
left out, only topics, paths and formats are shown.

>>> from kappa.models import Pipeline
>>> pl = Pipeline(name="p", nodes=[{"name": "brz", "source": {"topic": "t", "bootstrap_servers": "b:9092"},
...     "sinks": [{"path": "out/brz", "format": "DELTA"}]}])
>>> print(to_dot(pl).replace("\\t", "  "))
digraph p {
  graph [rankdir=LR]
  node [fontname=Helvetica fontsize=11]
  edge [fontname=Helvetica fontsize=10]
  "source/brz" [label="kafka\\nt" fillcolor="#fff4d6" shape=cds style=filled]
  brz [label=brz fillcolor="#dbe9ff" shape=box style="rounded,filled"]
  "sink/brz/0" [label="delta (append)\\nout/brz" fillcolor="#e3f5e1" shape=cylinder style=filled]
  "source/brz" -> brz
  brz -> "sink/brz/0"
}
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError
from kappa.models.checks import pipeline_edges

if TYPE_CHECKING:  # pragma: no cover
    from kappa.models import Pipeline

FORMATS = ("dot", "svg", "png")
_SOURCE = {"shape": "cds", "style": "filled", "fillcolor": "#fff4d6"}
_NODE = {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9ff"}
_SINK = {"shape": "cylinder", "style": "filled", "fillcolor": "#e3f5e1"}
_QUARANTINE = {"shape": "cylinder", "style": "dashed,filled", "fillcolor": "#fde2e1"}


class GraphvizMissing(KappaError):
    """SVG/PNG asked for, but Graphviz's ``dot`` program is not installed."""

    exit_code = 2


def source_label(source: Any) -> str:
    """What a (non-node) source reads: kind and topics, path or format; never options."""
    kind = getattr(source, "type", "source")
    if kind == "kafka":
        return f"kafka\\n{', '.join(source.topics)}"
    if kind == "file":
        return f"files ({source.format})\\n{source.path}"
    return f"{kind}\\n{getattr(source, 'path', '')}".rstrip()


def sink_label(sink: Any) -> str:
    """What a sink writes: kind (mode or format) and its topic or path."""
    kind = getattr(sink, "type", "sink")
    if kind == "kafka":
        return f"kafka\\n{sink.topic}"
    if kind == "file":
        return f"files ({sink.format})\\n{sink.path}"
    mode = getattr(sink, "mode", None) or ("merge" if getattr(sink, "merge", None) is not None else "append")
    return f"{kind} ({mode})\\n{getattr(sink, 'path', '')}".rstrip()


def digraph(pipeline: "Pipeline"):
    """The pipeline as a ``graphviz.Digraph``: sources -> nodes -> sinks, left to right."""
    import graphviz

    g = graphviz.Digraph(pipeline.name, graph_attr={"rankdir": "LR"}, node_attr={"fontname": "Helvetica", "fontsize": "11"},
                          edge_attr={"fontname": "Helvetica", "fontsize": "10"})
    for node in pipeline.nodes:
        src = node.source
        if src is not None and getattr(src, "type", None) != "node":
            g.node(f"source/{node.name}", source_label(src), **_SOURCE)
        g.node(node.name, node.name, **_NODE)
        for i, sink in enumerate(node.sinks):
            g.node(f"sink/{node.name}/{i}", sink_label(sink), **(_QUARANTINE if sink.is_quarantine else _SINK))
    for node in pipeline.nodes:
        if node.source is not None and getattr(node.source, "type", None) != "node":
            g.edge(f"source/{node.name}", node.name)
    for up, down, kind in pipeline_edges(pipeline):
        g.edge(up, down, **({"style": "dashed", "label": "sql"} if kind == "sql" else {}))
    for node in pipeline.nodes:
        for i, sink in enumerate(node.sinks):
            g.edge(node.name, f"sink/{node.name}/{i}", **({"style": "dashed", "label": "quarantine"} if sink.is_quarantine else {}))
    return g


def to_dot(pipeline: "Pipeline") -> str:
    """The DOT text of :func:`digraph` (no trailing newline)."""
    return digraph(pipeline).source.rstrip("\n")


def render(pipeline: "Pipeline", fmt: str) -> bytes:
    """SVG or PNG bytes, rendered by Graphviz's ``dot`` program."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"render: {fmt!r} is not svg or png")
    if shutil.which("dot") is None:
        raise GraphvizMissing(
            f"--format {fmt} needs Graphviz's `dot` program on PATH (apt-get install graphviz, brew install graphviz, "
            "conda install graphviz); --format dot prints the DOT text without it"
        )
    return digraph(pipeline).pipe(format=fmt)


__all__ = ["FORMATS", "GraphvizMissing", "digraph", "render", "sink_label", "source_label", "to_dot"]
