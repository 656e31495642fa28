"""The live status of ``kappa stream start``: a line per change off a TTY, a redrawn table on one."""

from __future__ import annotations

import io

from kappa.cli.stream_cmds import LiveBoard
from kappa.engines.spark.streaming import NodeLive


def live(state="running", batches=1, error=None, lag=0):
    return NodeLive("brz", state, batches, 10 * batches, 9 * batches, 12.5, lag, batches - 1, error)


def test_plain_output_prints_one_line_per_change():
    out = io.StringIO()
    board = LiveBoard(out, tty=False, title="t")
    board.update([live()])
    board.update([live()])  # nothing changed: nothing printed
    board.update([live(batches=2, lag=3)])
    board.update([live(state="failed", batches=2, error="batch 2: boom\ntraceback")])
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]  # drop the clock
    assert lines == [
        "brz running batches=1 in=10 out=9 rate=12.5/s lag=0",
        "brz running batches=2 in=20 out=18 rate=12.5/s lag=3",
        "brz failed batches=2 in=20 out=18 rate=12.5/s lag=0 error=batch 2: boom",
    ]


def test_tty_output_redraws_the_table_in_place():
    out = io.StringIO()
    board = LiveBoard(out, tty=True, title="kappa stream: pipeline p")
    board.update([live()])
    board.update([live(batches=2)])
    text = out.getvalue()
    first, second = text.split("\x1b[3F\x1b[J")
    assert first.splitlines()[1] == LiveBoard.HEAD
    assert second.splitlines()[2].split() == ["brz", "running", "2", "20", "18", "12.5", "0", "-"]


def stateful(batches=1, watermark=None, state_rows=0, late=0):
    return NodeLive("gld", "running", batches, 5, 2, None, None, batches - 1, None, late, watermark, state_rows, 100 * state_rows)


def test_a_stateful_node_shows_its_watermark_state_and_late_rows():
    out = io.StringIO()
    board = LiveBoard(out, tty=False, title="t")
    board.update([stateful()])
    board.update([stateful(watermark="2024-01-01T00:50:00.000Z", state_rows=3, late=1)])  # batches same, state moved
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines == [
        "gld running batches=1 in=5 out=2 watermark=- state=0 rows/0 B late=0",
        "gld running batches=1 in=5 out=2 watermark=2024-01-01T00:50:00.000Z state=3 rows/300 B late=1",
    ]
    tty = io.StringIO()
    LiveBoard(tty, tty=True, title="t").update([stateful(state_rows=2)])
    assert tty.getvalue().splitlines()[3].split() == ["watermark=-", "state=2", "rows/200", "B", "late=0"]
