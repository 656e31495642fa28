"""Two runs of one pipeline at once: the second fails at once naming the holder; a lock left by
a killed process is taken over (issue 7, item 1.6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from kappa.checkpoint.lock import PipelineBusy, lock_path, pipeline_lock, read_holder
from kappa.cli import main

from .helpers import add_file, rows, version, write_pipeline

HOLDER = textwrap.dedent(
    """
    import sys, time
    from kappa.checkpoint.lock import pipeline_lock, set_command
    set_command("kappa replay")
    with pipeline_lock(sys.argv[1], "ck"):
        print("held", flush=True)
        time.sleep(120)
    """
)


def hold(ck_root) -> subprocess.Popen:
    """Another process holding the pipeline's lock (as a running `kappa replay` does)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(ck_root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


COMMANDS = {
    "replay": (["replay"], []),
    "run": (["run"], ["--profile", "python"]),
    "stream-start": (["stream", "start"], ["--until-idle", "--profile", "python"]),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_second_run_fails_at_once_naming_the_holder(tmp_path, capsys, command):
    """Either engine: the lock is taken before anything starts (for Spark, before the session)."""
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(3))
    holder = hold(tmp_path / "ck")
    try:
        info = read_holder(lock_path(str(tmp_path / "ck"), "ck"))
        assert info["pid"] == holder.pid and info["command"] == "kappa replay"
        started = time.perf_counter()
        with pytest.raises(SystemExit) as exc:
            words, options = COMMANDS[command]
            main([*words, path, *options])
        assert time.perf_counter() - started < 5
        assert exc.value.code == 1
        err = capsys.readouterr().err
        expected = (
            f"error: pipeline 'ck' is already running (pid {holder.pid} on host {info['host']} since {info['started']}, "
            f"kappa replay); wait for it to finish or stop it (lock {tmp_path / 'ck' / 'ck' / '.kappa.lock'})"
        )
        assert err.strip().splitlines() == [expected]
        assert version(tmp_path / "brz") is None  # nothing written
        # the Python API takes the same lock
        from kappa.api import load_pipeline_file

        with pytest.raises(PipelineBusy):
            load_pipeline_file(path).execute()
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_killed_run_is_taken_over(tmp_path, capsys):
    path = write_pipeline(tmp_path)
    add_file(tmp_path, "a", range(3))
    holder = hold(tmp_path / "ck")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock = lock_path(str(tmp_path / "ck"), "ck")
    assert read_holder(lock)["pid"] == holder.pid  # the dead holder's details are still there
    main(["replay", path])
    assert [r["id"] for r in rows(tmp_path / "brz")] == [0, 1, 2]
    with pipeline_lock(str(tmp_path / "ck"), "ck", "test"):
        info = read_holder(lock)
        assert (info["pid"], info["command"]) == (os.getpid(), "test")  # rewritten by the new holder
    assert read_holder(lock) is None  # cleared on release


def test_lock_is_reentrant_in_one_thread_but_not_across_threads(tmp_path):
    import threading

    errors = []
    with pipeline_lock(str(tmp_path), "p", "outer"):
        with pipeline_lock(str(tmp_path), "p", "inner"):
            pass

        def other():
            try:
                with pipeline_lock(str(tmp_path), "p", "thread"):
                    pass
            except PipelineBusy as exc:
                errors.append(str(exc))

        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert len(errors) == 1 and f"pid {os.getpid()}" in errors[0] and "outer" in errors[0]
