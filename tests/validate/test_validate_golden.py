"""``kappa validate`` finds before any run what used to fail only at run time (issue 12, section 1).

Each pipeline under ``cases/`` is validated from its own folder; the exact output (stderr for
errors, exit 2; stdout for ``ok``) is ``golden/<case>.txt``. ``KAPPA_UPDATE_GOLDEN=1`` rewrites
the golden files (review the diff). The replay and the Spark engine run the same checks before
any node starts: nothing upstream commits first.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kappa.cli import main

HERE = Path(__file__).parent
CASES = sorted(p.stem for p in (HERE / "cases").glob("*.yaml"))


def _validate(folder: Path, file: str, monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.chdir(folder)
    try:
        main([*args, file] if args else ["validate", file])
        code = 0
    except SystemExit as exc:
        code = int(exc.code)
    out = capsys.readouterr()
    return code, out.err if code else out.out


def _golden(name: str, text: str) -> str:
    path = HERE / "golden" / f"{name}.txt"
    if os.environ.get("KAPPA_UPDATE_GOLDEN"):
        path.write_text(text)
    return path.read_text()


@pytest.mark.parametrize("case", CASES)
def test_validate_output_is_golden(case, monkeypatch, capsys):
    code, text = _validate(HERE / "cases", f"{case}.yaml", monkeypatch, capsys)
    assert text == _golden(case, text)
    assert code == (0 if case == "valid" else 2)


def test_an_existing_delta_table_gives_the_schema(tmp_path, monkeypatch, capsys):
    import pyarrow as pa
    from deltalake import write_deltalake

    write_deltalake(str(tmp_path / "events"), pa.table({"event_id": pa.array([1], pa.int64()), "kind": ["a"]}))
    (tmp_path / "pipeline.yaml").write_text(
        "name: events\n"
        "nodes:\n"
        "- name: silver\n"
        "  source: {format: DELTA, path: ./events}\n"
        "  transformer:\n"
        "  - expr: SELECT event_id, knd AS kind FROM {df}\n"
        "  sinks: [{format: DELTA, path: ./silver}]\n"
    )
    code, text = _validate(tmp_path, "pipeline.yaml", monkeypatch, capsys)
    assert (code, text) == (2, _golden("existing_delta", text))


def _orders(tmp_path: Path, case: str) -> Path:
    shutil.copy(HERE / "cases" / f"{case}.yaml", tmp_path / "pipeline.yaml")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.jsonl").write_text('{"id": 1, "amount": 2.5, "customer": "a"}\n')
    return tmp_path / "pipeline.yaml"


def test_replay_refuses_before_any_node_runs(tmp_path, monkeypatch, capsys):
    _orders(tmp_path, "unknown_column")
    code, text = _validate(tmp_path, "pipeline.yaml", monkeypatch, capsys, "replay")
    assert code == 2
    assert text == _golden("replay_refusal", text)
    assert not (tmp_path / "out").exists()  # bronze did not run: nothing committed upstream
    assert not (tmp_path / "checkpoints").exists() or not any((tmp_path / "checkpoints").rglob("commits"))


def test_replay_of_a_valid_pipeline_still_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "orders.jsonl").write_text('{"id": 1, "amount": 2.5}\n{"id": 2, "amount": 4.0}\n')
    (tmp_path / "pipeline.yaml").write_text(
        "name: orders\n"
        "nodes:\n"
        "- name: bronze\n"
        "  source: {path: ./data/, format: JSONL, schema: 'id BIGINT, amount DOUBLE'}\n"
        "  transformer:\n"
        "  - expr: SELECT id AS order_id, amount FROM {df}\n"
        "  sinks: [{format: DELTA, path: ./out/bronze}]\n"
        "- name: silver\n"
        "  source: {node_name: bronze}\n"
        "  transformer:\n"
        "  - expr: SELECT order_id, amount * 2 AS doubled FROM {df}\n"
        "  sinks: [{format: DELTA, path: ./out/silver}]\n"
    )
    code, text = _validate(tmp_path, "pipeline.yaml", monkeypatch, capsys, "replay")
    assert code == 0, text
    from kappa.delta.read import read_delta

    assert sorted(read_delta(str(tmp_path / "out" / "silver")).to_pylist(), key=lambda r: r["order_id"]) == [
        {"order_id": 1, "doubled": 5.0}, {"order_id": 2, "doubled": 8.0}]


def test_no_golden_message_shows_internal_names():
    for path in (HERE / "golden").glob("*.txt"):
        text = path.read_text()
        for internal in ("__kappa", "_df_", "_n0", "\x1b[", "approx_quantile", "sqlglot"):
            assert internal not in text, (path.name, internal)
