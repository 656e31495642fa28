"""Live per-node progress of ``kappa run`` and ``kappa replay`` (the runner's ``on_progress``).

Design note: on a terminal (stderr is a TTY) a Rich live table is redrawn in place -- node,
status, batches, rows read so far, rate, elapsed -- and removed when the run ends (the final
summary follows on stdout). Anywhere else (CI logs, pipes, files) one plain line per event goes
to stderr: a node starting, each batch it committed, its end. ``--quiet`` prints nothing of it.
The clock is injectable so the plain lines are testable exactly. Rich is imported only for the
live table.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Callable

from kappa.summary import NodeRunSummary


@dataclass
class _Row:
    node: str
    started: float
    status: str = "running"
    batches: int = 0
    read_rows: int = 0
    output_rows: int = 0
    seconds: float = 0.0


def rate(rows: int, seconds: float) -> str:
    """Rows per second, rounded (``-`` before any time passed).

    >>> rate(300, 1.5), rate(0, 0.0)
    ('200 rows/s', '-')
    """
    return f"{rows / seconds:.0f} rows/s" if seconds > 0 else "-"


class RunProgress:
    """``on_progress`` of a run that prints to ``stream`` (default stderr): a live table when
    ``live`` (default: ``stream`` is a terminal), else plain lines; nothing when ``quiet``.
    Use it as a context manager around the run."""

    def __init__(self, *, quiet: bool = False, live: bool | None = None, stream: IO[str] | None = None,
                 clock: Callable[[], float] = time.perf_counter):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.live = (not quiet) and (live if live is not None else bool(getattr(self.stream, "isatty", lambda: False)()))
        self.clock = clock
        self.rows: dict[str, _Row] = {}
        self._live: Any = None
        self._pending: list[str] = []

    # ------------------------------------------------------------- context
    def __enter__(self) -> "RunProgress":
        if self.live:
            from rich.console import Console
            from rich.live import Live

            self._live = Live(console=Console(file=self.stream), get_renderable=self._table, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def note(self, line: str, *, at_first_event: bool = False) -> None:
        """A line for the user (e.g. where Spark logs), above the live table; none when quiet.
        ``at_first_event``: printed when the first node starts (not for a run refused before)."""
        if self.quiet:
            return
        if at_first_event:
            self._pending.append(line)
            return
        if self._live is not None:
            self._live.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)

    # ------------------------------------------------------------- events
    def __call__(self, ns: NodeRunSummary, event: str) -> None:
        if self.quiet:
            return
        while self._pending:
            self.note(self._pending.pop(0))
        now = self.clock()
        row = self.rows.get(ns.node)
        if row is None or event == "start":
            row = self.rows[ns.node] = _Row(ns.node, now)
        row.batches, row.read_rows, row.output_rows = ns.batches, ns.read_rows, ns.output_rows
        row.seconds = ns.seconds if event == "done" else now - row.started
        if event == "done":
            row.status = "error" if ns.error else (ns.skipped or "ok")
        if self._live is not None:
            self._live.refresh()
        else:
            line = self._line(row, event)
            if line:
                print(line, file=self.stream, flush=True)

    def _line(self, row: _Row, event: str) -> str | None:
        if event == "start":
            return f"{row.node}: started"
        if event == "batch":
            return (f"{row.node}: batch {row.batches}, {row.read_rows} rows read, {row.output_rows} out, "
                    f"{rate(row.read_rows, row.seconds)}, {row.seconds:.1f} s")
        return (f"{row.node}: {row.status}, {row.batches} batch(es), {row.read_rows} rows read, {row.output_rows} out, "
                f"{rate(row.read_rows, row.seconds)}, {row.seconds:.1f} s")

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for name, justify in (("node", "left"), ("status", "left"), ("batch", "right"), ("rows read", "right"),
                              ("rate", "right"), ("elapsed", "right")):
            table.add_column(name, justify=justify)  # type: ignore[arg-type]
        for row in self.rows.values():
            seconds = row.seconds if row.status != "running" else self.clock() - row.started
            table.add_row(row.node, row.status, str(row.batches), str(row.read_rows), rate(row.read_rows, seconds), f"{seconds:.1f} s")
        return table


def run_command(run: Callable[[RunProgress], Any], *, as_json: bool = False, log_file: str | None = None) -> None:
    """Run ``run(progress)`` (a runner call taking ``on_progress``) with the live progress, then
    print its summary on stdout: the table, or with ``as_json`` the JSON document
    (:mod:`kappa.summary_json`), also when a node failed (the error line still goes to stderr,
    the exit code is the error's). ``log_file``: where Spark logs (printed once)."""
    import typer

    from kappa.cli.logs import OUTPUT
    from kappa.errors import RunFailed

    progress = RunProgress(quiet=OUTPUT.quiet)
    try:
        with progress:
            if log_file is not None:
                progress.note(f"spark log: {log_file}", at_first_event=True)
            result = run(progress)
    except RunFailed as exc:
        if as_json and exc.summary is not None:
            from kappa.cli import _kappa_error_text

            typer.echo(_json(exc.summary, _kappa_error_text(exc).removeprefix("error: "), log_file))
            exc.summary_shown = True  # type: ignore[attr-defined]  # the CLI prints no table
        raise
    typer.echo(_json(result.summary, None, log_file) if as_json else result.render())


def _json(summary: Any, error: str | None, log_file: str | None) -> str:
    from kappa.summary_json import summary_json

    return summary_json(summary, error=error, log_file=log_file).model_dump_json(indent=2)
