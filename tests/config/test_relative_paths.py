"""Relative paths resolve against the pipeline file's folder, not the working directory.

A cron or Airflow job started from another folder must find the same tables and checkpoints
(as dbt resolves paths against its project). ``root_path`` overrides the base (itself relative
to the file's folder); ``KAPPA_CHECKPOINT_ROOT`` (relative to the working directory, as any
path in the environment) overrides the default checkpoint root; a pipeline built in Python
keeps the working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from kappa.config.loader import load_pipeline_file
from kappa.delta.read import read_delta
from kappa.api import Pipeline
from kappa.plan import build_plan

PIPELINE = """\
name: rel
nodes:
- name: brz
  source:
    path: ./data/in
    format: JSONL
    as_stream: true
  sinks:
  - format: DELTA
    path: ./lake/brz
- name: slv
  source:
    node_name: brz
    as_stream: true
  transformer:
  - expr: SELECT id, id * 2 AS twice FROM {df}
  sinks:
  - format: DELTA
    path: lake/slv
"""

KAPPA = [sys.executable, "-m", "kappa.cli"]


def _write_batch(folder: Path, name: str, ids: range) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps({"id": i}) + "\n" for i in ids))


def _replay(pipeline: Path, cwd: Path) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "KAPPA_CHECKPOINT_ROOT"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    return subprocess.run([*KAPPA, "replay", str(pipeline)], cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False)


def _ids(path: Path) -> list[int]:
    return sorted(read_delta(str(path), columns=["id"]).column("id").to_pylist())


def test_replay_from_other_folders_uses_the_pipeline_folder(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    pipeline = project / "pipeline.yaml"
    pipeline.write_text(PIPELINE)
    _write_batch(project / "data" / "in", "a.jsonl", range(5))

    first = _replay(pipeline, tmp_path / "elsewhere")
    assert first.returncode == 0, first.stderr
    assert _ids(project / "lake" / "brz") == list(range(5))
    assert _ids(project / "lake" / "slv") == list(range(5))
    assert (project / "checkpoints" / "rel" / "brz").is_dir()
    assert (project / "checkpoints" / "rel" / "slv").is_dir()
    assert list((tmp_path / "elsewhere").iterdir()) == []  # nothing written where it ran from
    versions = {n: DeltaTable(str(project / "lake" / n)).version() for n in ("brz", "slv")}

    again = _replay(pipeline, tmp_path / "third")  # a no-op: same checkpoints, nothing new
    assert again.returncode == 0, again.stderr
    assert {n: DeltaTable(str(project / "lake" / n)).version() for n in ("brz", "slv")} == versions
    assert _ids(project / "lake" / "brz") == list(range(5))
    assert list((tmp_path / "third").iterdir()) == []

    _write_batch(project / "data" / "in", "b.jsonl", range(5, 8))  # only the new file is read
    more = _replay(pipeline, project / "data")
    assert more.returncode == 0, more.stderr
    assert _ids(project / "lake" / "brz") == list(range(8))
    assert _ids(project / "lake" / "slv") == list(range(8))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "project", "third"]


def _paths(pl: Pipeline) -> dict[str, str]:
    plan = build_plan(pl)
    brz, slv = plan.node("brz"), plan.node("slv")
    return {
        "root": plan.root,
        "source": brz.source.path,
        "brz": brz.sinks[0].path,
        "slv_source": slv.source.path,
        "checkpoints": plan.checkpoint_root,
    }


def test_root_path_is_relative_to_the_pipeline_file(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.yaml").write_text("root_path: ../lakehouse\n" + PIPELINE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KAPPA_CHECKPOINT_ROOT", raising=False)
    lake = tmp_path / "lakehouse"
    assert _paths(load_pipeline_file("project/pipeline.yaml")) == {
        "root": str(lake),
        "source": str(lake / "data/in"),
        "brz": str(lake / "lake/brz"),
        "slv_source": str(lake / "lake/brz"),
        "checkpoints": str(lake / "checkpoints"),
    }
    absolute = tmp_path / "abs"
    (project / "abs.yaml").write_text(f"root_path: {absolute}\ncheckpoint_root: state\n" + PIPELINE)
    paths = _paths(load_pipeline_file(project / "abs.yaml"))
    assert (paths["root"], paths["brz"], paths["checkpoints"]) == (str(absolute), str(absolute / "lake/brz"), str(absolute / "state"))


def test_kappa_checkpoint_root_and_python_pipelines(tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    (project / "pipeline.yaml").write_text(PIPELINE)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    # the environment's relative path is the shell's: relative to the working directory
    monkeypatch.setenv("KAPPA_CHECKPOINT_ROOT", "ck")
    paths = _paths(load_pipeline_file(project / "pipeline.yaml"))
    assert (paths["brz"], paths["checkpoints"]) == (str(project / "lake/brz"), str(work / "ck"))
    # a checkpoint_root in the pipeline wins over the environment, relative to the root
    (project / "own.yaml").write_text("checkpoint_root: ./state\n" + PIPELINE)
    assert _paths(load_pipeline_file(project / "own.yaml"))["checkpoints"] == str(project / "state")
    monkeypatch.delenv("KAPPA_CHECKPOINT_ROOT")

    # laktory's ways of loading a file record its folder too
    with open(project / "pipeline.yaml") as fh:
        assert _paths(Pipeline.model_validate(fh))["brz"] == str(project / "lake/brz")
    with open(project / "pipeline.yaml") as fh:
        assert _paths(Pipeline.model_validate_yaml(fh))["root"] == str(project)
    # YAML text and pipelines built in Python have no file: the working directory
    assert _paths(Pipeline.model_validate_yaml(PIPELINE))["root"] == str(work)
    built = load_pipeline_file(project / "pipeline.yaml").model_dump(exclude_unset=True)
    assert _paths(Pipeline(**built))["brz"] == str(work / "lake/brz")
    # copies keep the file's folder
    copy = load_pipeline_file(project / "pipeline.yaml").model_copy(deep=True)
    assert _paths(copy)["brz"] == str(project / "lake/brz")


@pytest.mark.parametrize("dead", ["./dead", "/abs/dead"])
def test_dead_letter_path_resolves_against_the_pipeline_folder(tmp_path, monkeypatch, dead):
    from kappa.engines.polars.engine import dead_letter_path

    project = tmp_path / "project"
    project.mkdir()
    (project / "k.yaml").write_text(
        "name: k\nnodes:\n- name: brz\n  source:\n    bootstrap_servers: 127.0.0.1:1\n    topic: t\n"
        f"    dead_letter_path: {dead}\n  sinks:\n  - format: DELTA\n    path: ./brz\n"
    )
    monkeypatch.chdir(tmp_path)
    plan = build_plan(load_pipeline_file("project/k.yaml"))
    expected = str(project / "dead") if dead.startswith(".") else dead
    assert dead_letter_path(plan.node("brz"), plan.root) == expected


def test_a_cdc_replication_config_records_its_folder(tmp_path, monkeypatch):
    from kappa.replication.load import load_replication

    folder = tmp_path / "cdc"
    folder.mkdir()
    (folder / "replication.yaml").write_text(
        "kind: cdc_replication\nname: inv\nsource:\n  bootstrap_servers: 127.0.0.1:1\n  topic_pattern: x\\..*\n"
        "target:\n  path: ./mirror/{table}\n"
    )
    monkeypatch.chdir(tmp_path)
    assert load_replication("cdc/replication.yaml")._base_dir == str(folder)
