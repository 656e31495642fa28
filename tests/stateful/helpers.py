"""Small builders for the stateful surface tests: a pipeline YAML with one streaming node."""

from __future__ import annotations

import textwrap

from kappa.config.loader import load_pipeline_text

HEAD = """\
name: st
nodes:
- name: brz
  source: {path: ./in, format: JSONL}
  sinks: [{format: DELTA, path: ./brz}]
"""


def node_yaml(steps: str, *, source: str = "{node_name: brz, as_stream: true}", extra: str = "",
              sinks: str = "[{format: DELTA, path: ./out}]") -> str:
    """A pipeline whose node ``agg`` (line 6 on) reads ``source`` and runs ``steps`` (YAML list items)."""
    body = f"- name: agg\n  source: {source}\n{extra}  transformer:\n{textwrap.indent(textwrap.dedent(steps).strip(), '  ')}\n  sinks: {sinks}\n"
    return HEAD + body


def load(text: str):
    return load_pipeline_text(text, path="p.yaml")
