"""The ``kappa`` command freezes what is left of its heap just before its process ends (the
shutdown's collections then skip it: kappa.cli._before_exit); ``main(argv)`` called in-process
leaves the caller's collector alone."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PIPELINE = "name: exit-gc\nnodes:\n- name: brz\n  source: {path: ./in/, format: JSONL}\n"
PROBE = ("import atexit, gc, sys\n"
         "atexit.register(lambda: print('frozen' if gc.get_freeze_count() else 'not frozen', flush=True))\n"
         "sys.argv = ['kappa', 'validate', sys.argv[1]]\n"
         "from kappa.cli import main\n"
         "main()\n")


def test_the_command_freezes_its_heap_before_exiting(tmp_path):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(PIPELINE)
    bad.write_text(PIPELINE.replace("JSONL", "NOPE"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    ok = subprocess.run([sys.executable, "-c", PROBE, str(good)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert (ok.returncode, ok.stdout.splitlines()[-1]) == (0, "frozen")
    failed = subprocess.run([sys.executable, "-c", PROBE, str(bad)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert (failed.returncode, failed.stdout.splitlines()[-1]) == (2, "frozen") and "got 'NOPE'" in failed.stderr


def test_main_called_in_process_does_not_freeze(tmp_path):
    from kappa.cli import main

    (tmp_path / "p.yaml").write_text(PIPELINE)
    assert gc.get_freeze_count() == 0
    main(["validate", str(tmp_path / "p.yaml")])
    assert gc.get_freeze_count() == 0
