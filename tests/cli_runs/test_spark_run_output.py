"""``kappa run`` as a real process (a fresh JVM: kappa's log4j2 file applies): the summary
counts rows removed by steps from Spark's observed metrics, Spark's own log and its Python
workers' stderr go to the file under the checkpoint root (its path printed once), a failed node prints its root cause without
the analysed plan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kappa.summary_json import RunSummaryJson
from tests.cli_runs.conftest import write_pipeline

pytestmark = pytest.mark.spark

REPO = Path(__file__).resolve().parents[2]
JVM_NOTE = "WARNING: Using incubator modules: jdk.incubator.vector"  # printed by the JVM itself


# imported by every Python process started with it on its path; says something on stderr in Spark's
# Python workers only (the variables Spark's worker factory sets), as a library's warning would
NOISY_WORKER = """\
import os, sys
if "PYTHON_UNIX_DOMAIN_ENABLED" in os.environ or "PYTHON_WORKER_FACTORY_SECRET" in os.environ:
    print("noise from a python worker", file=sys.stderr, flush=True)
"""


def _kappa(folder: Path, *args: str, path: tuple[Path, ...] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KAPPA_DEBUG", "SPARK_REMOTE", "KAPPA_CHECKPOINT_ROOT")}
    env.update(PYTHONPATH=os.pathsep.join(map(str, (REPO, *path))), SPARK_LOCAL_IP="127.0.0.1")
    return subprocess.run([sys.executable, "-m", "kappa.cli", *args], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_run_json_log_file_and_root_cause(tmp_path):
    good = write_pipeline(tmp_path / "good", name="good")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(NOISY_WORKER)
    done = _kappa(good.parent, "run", str(good), "--profile", "python", "--json", path=(tmp_path / "site",))
    assert done.returncode == 0, done.stderr
    summary = RunSummaryJson.model_validate_json(done.stdout)
    assert [(n.node, n.batches, n.read_rows, n.removed_rows, n.output_rows, n.dropped_rows, n.sink_rows) for n in summary.nodes] == [
        ("bronze", 1, 30, 2, 24, 4, {"sink0": 24}), ("silver", 1, 24, 0, 24, 0, {"sink0": 24})]
    log_file = Path(summary.log_file)
    assert log_file.parent == tmp_path / "good" / "checkpoints" / "good" / ".logs" and log_file.is_file()
    lines = [line for line in done.stderr.splitlines() if line != JVM_NOTE]
    # a slow batch may also print a progress line (``bronze: batch 1, ...``) before its end
    assert [line.split(",")[0] for line in lines if ": batch " not in line] == [
        f"spark log: {log_file}", "bronze: started", "bronze: ok", "silver: started", "silver: ok"]
    # what Spark's Python workers print on stderr goes to the log, not the terminal
    assert "noise from a python worker" in log_file.read_text()

    bad = write_pipeline(tmp_path / "bad", name="bad", where="nope > 1")
    done = _kappa(bad.parent, "--quiet", "run", str(bad), "--profile", "python")
    assert done.returncode == 1
    cause = ("[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column, variable, or function parameter with name `nope` cannot be "
             "resolved. Did you mean one of the following? [`id`, `v`]. SQLSTATE: 42703; line 1 pos 51;")
    lines = [line for line in done.stderr.splitlines() if line != JVM_NOTE]
    assert lines[-1] == f"error: node 'bronze' failed: {cause}"
    assert lines[0] == "pipeline bad on spark" and lines[3].endswith(f"error: {cause}") and len(lines) == 5
    assert "Project [" not in done.stderr + done.stdout
    logged = next((tmp_path / "bad" / "checkpoints" / "bad" / ".logs").glob("*.log")).read_text()
    assert "UNRESOLVED_COLUMN" in logged  # the whole story is in the file
    assert json.loads(json.dumps(summary.model_dump()))["ok"] is True
