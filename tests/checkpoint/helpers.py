"""Helpers of the checkpoint-safety tests: a files -> bronze -> silver -> gold pipeline."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from deltalake import DeltaTable

from kappa.cli import main

FILES = """
name: ck
checkpoint_root: {root}/ck
nodes:
- name: brz
  source:
    path: {root}/in
    format: JSONL
    as_stream: true
  transformer:
  - expr: SELECT id, name FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/brz
- name: {silver}
  source:
    node_name: brz
    as_stream: true
  transformer:
  - expr: SELECT id, upper(name) AS name FROM {{df}}
  sinks:
  - format: DELTA
    path: {root}/slv
- name: gold
  source:
    node_name: {silver}
    as_stream: false
  transformer:
  - expr: {gold_sql}
  sinks:
  - format: DELTA
    path: {root}/gold
"""

GOLD_SQL = "SELECT count(*) AS n FROM {df}"


def write_pipeline(root: Path, template: str = FILES, **fmt) -> str:
    values = {"silver": "slv", "gold_sql": GOLD_SQL, **fmt}
    path = root / "pipeline.yaml"
    path.write_text(textwrap.dedent(template).format(root=root, **values))
    return str(path)


def add_file(root: Path, name: str, ids: range) -> None:
    folder = root / "in"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.jsonl").write_text("".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in ids))


def rows(path: Path, key: str = "id") -> list[dict]:
    return sorted(DeltaTable(str(path)).to_pyarrow_table().to_pylist(), key=lambda r: r[key])


def version(path: Path) -> int | None:
    return DeltaTable(str(path)).version() if (path / "_delta_log").is_dir() else None


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """``kappa ARGV`` in this process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err
