"""The progress display (:mod:`kappa.cli.progress`): exact plain lines with a fake clock, the
live table's rows, nothing when quiet."""

from __future__ import annotations

import io

from kappa.cli.progress import RunProgress
from kappa.summary import NodeRunSummary


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _events(progress: RunProgress, clock: Clock) -> None:
    progress(NodeRunSummary("bronze"), "start")
    clock.now += 2.0
    progress(NodeRunSummary("bronze", batches=1, input_rows=90, removed_rows=10, output_rows=90), "batch")
    clock.now += 2.0
    progress(NodeRunSummary("bronze", batches=2, input_rows=180, removed_rows=20, output_rows=170, seconds=4.0), "done")
    progress(NodeRunSummary("silver", skipped="no new data"), "done")


def test_plain_lines_are_exact():
    clock, out = Clock(), io.StringIO()
    with RunProgress(stream=out, clock=clock) as progress:
        _events(progress, clock)
        progress.note("spark log: /ck/p/.logs/spark.log")
    assert out.getvalue() == (
        "bronze: started\n"
        "bronze: batch 1, 100 rows read, 90 out, 50 rows/s, 2.0 s\n"
        "bronze: ok, 2 batch(es), 200 rows read, 170 out, 50 rows/s, 4.0 s\n"
        "silver: no new data, 0 batch(es), 0 rows read, 0 out, -, 0.0 s\n"
        "spark log: /ck/p/.logs/spark.log\n"
    )


def test_quiet_prints_nothing():
    clock, out = Clock(), io.StringIO()
    with RunProgress(stream=out, clock=clock, quiet=True) as progress:
        _events(progress, clock)
        progress.note("spark log: x")
    assert out.getvalue() == ""


def test_live_table_rows():
    from rich.console import Console

    clock = Clock()
    progress = RunProgress(stream=io.StringIO(), clock=clock, live=False)
    progress(NodeRunSummary("bronze"), "start")
    clock.now += 4.0
    progress(NodeRunSummary("bronze", batches=3, input_rows=300, output_rows=300), "batch")
    progress(NodeRunSummary("silver"), "start")
    clock.now += 1.0
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(progress._table())
    assert [line.rstrip() for line in console.file.getvalue().splitlines()] == [
        "node    status   batch  rows read       rate  elapsed",
        "bronze  running      3        300  60 rows/s    5.0 s",
        "silver  running      0          0   0 rows/s    1.0 s",
    ]


def test_live_on_a_terminal_is_transient():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    clock, out = Clock(), Tty()
    with RunProgress(stream=out, clock=clock) as progress:
        assert progress.live
        _events(progress, clock)
    assert "bronze: started" not in out.getvalue()  # the table, not the plain lines


def test_a_note_at_the_first_event():
    clock, out = Clock(), io.StringIO()
    with RunProgress(stream=out, clock=clock) as progress:
        progress.note("spark log: /x.log", at_first_event=True)
        assert out.getvalue() == ""  # a run refused before any node starts prints no path
        progress(NodeRunSummary("bronze"), "start")
    assert out.getvalue() == "spark log: /x.log\nbronze: started\n"
