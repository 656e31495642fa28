"""``kappa init``: a scaffolded project whose own test passes, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from kappa.cli import main
from kappa.config.loader import load_pipeline_file
from kappa.schemas import schema_json

REPO = Path(__file__).resolve().parents[2]
FILES = ["pipeline.yaml", "tests/test_pipeline.py", "README.md", "pyproject.toml", ".gitignore", "schemas/pipeline.schema.json"]


def test_init_writes_the_project(tmp_path, capsys):
    target = tmp_path / "orders"
    main(["init", str(target)])
    assert capsys.readouterr().out == "".join(
        [f"created 6 files in {target}:\n", *(f"  {f}\n" for f in FILES), f"next: cd {target} && pytest -q   (see README.md)\n"]
    )
    assert sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()) == sorted(FILES)
    assert (target / "schemas/pipeline.schema.json").read_text() == schema_json("pipeline")
    pipeline = (target / "pipeline.yaml").read_text()
    assert pipeline.splitlines()[0] == "# yaml-language-server: $schema=./schemas/pipeline.schema.json"
    schema = json.loads((target / "schemas/pipeline.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(pipeline))) == []
    pl = load_pipeline_file(target / "pipeline.yaml")
    assert pl.name == "orders"
    assert [(n.name, n.source.type, [s.type for s in n.sinks], [e.action for e in n.expectations]) for n in pl.nodes] == [
        ("brz_orders", "kafka", ["delta"], []),
        ("slv_orders", "node", ["delta", "delta"], ["drop", "quarantine"]),
        ("gld_customer_revenue", "node", ["delta"], []),
    ]


@pytest.mark.kafka
def test_init_then_its_own_test_passes(tmp_path):
    """The generated test, in a fresh pytest process in the project folder: a broker, a Polars
    replay, exact tables (kappa's plugin comes from the entry point of the installed kappa)."""
    target = tmp_path / "my project"
    main(["init", str(target), "--name", "shop-orders"])
    env = {**os.environ, "PYTHONPATH": str(REPO), "KAPPA_TEST_BROKER": "tansu"}
    env.pop("KAPPA_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=target, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("1 passed in ")
    assert load_pipeline_file(target / "pipeline.yaml").name == "shop-orders"


def test_init_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SystemExit) as exc:
        main(["init", str(tmp_path)])
    assert exc.value.code == 2
    assert capsys.readouterr().err == f"error: kappa init: {tmp_path} is not empty (1 entry: notes.txt); give a new or empty folder\n"
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_init_into_an_empty_current_folder(tmp_path, capsys, monkeypatch):
    (tmp_path / "Daily Sales!").mkdir()
    monkeypatch.chdir(tmp_path / "Daily Sales!")
    main(["init"])
    assert capsys.readouterr().out.splitlines()[0] == "created 6 files in .:"
    assert load_pipeline_file(Path("pipeline.yaml")).name == "Daily-Sales"


def test_init_refuses_a_bad_name(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["init", str(tmp_path / "p"), "--name", "a b"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: kappa init: --name 'a b' is not a pipeline name (letters, digits, `_`, `-`, `.`)\n"
    assert not (tmp_path / "p").exists()
