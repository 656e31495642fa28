"""The live status of ``kappa stream start`` and ``kappa cdc start``, and the streaming run
both share (through :func:`kappa.runner.stream`).

Plain text: a table redrawn in place on a TTY, else one line per change.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def _num(value: Any, fmt: str = "{}") -> str:
    return "-" if value is None else fmt.format(value)


def _state_text(row: Any) -> str | None:
    """A stateful node's watermark, state rows/bytes and late rows (None for a stateless node)."""
    return getattr(row, "state_text", None)


class LiveBoard:
    """Plain-text live status: a table redrawn in place on a TTY, else one line per change."""

    HEAD = f"{'node':<24} {'state':<8} {'batches':>7} {'rows in':>10} {'rows out':>10} {'in rows/s':>10} {'lag':>8}  last error"

    def __init__(self, out: TextIO, tty: bool, title: str):
        self.out, self.tty, self.title = out, tty, title
        self._drawn = 0
        self._seen: dict[str, tuple] = {}

    def update(self, rows: list) -> None:
        if self.tty:
            self._redraw(rows)
        else:
            self._lines(rows)

    def _row(self, r: Any) -> str:
        err = (r.last_error or "-").splitlines()[0][:80]
        line = (
            f"{r.node:<24} {r.state:<8} {r.batches:>7} {r.input_rows:>10} {r.output_rows:>10} "
            f"{_num(r.input_rate, '{:.1f}'):>10} {_num(r.lag):>8}  {err}"
        )
        state = _state_text(r)
        return line if state is None else f"{line}\n{'':<24} {state}"

    def _redraw(self, rows: list) -> None:
        stamp = time.strftime("%H:%M:%S")
        lines = [f"{self.title}  [{stamp}, Ctrl-C stops gracefully]", self.HEAD] + "\n".join(self._row(r) for r in rows).splitlines()
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines)

    def _lines(self, rows: list) -> None:
        for r in rows:
            state = _state_text(r)
            key = (r.state, r.batches, r.last_error, state)
            if self._seen.get(r.node) == key:
                continue
            self._seen[r.node] = key
            parts = [time.strftime("%H:%M:%S"), r.node, r.state, f"batches={r.batches}", f"in={r.input_rows}", f"out={r.output_rows}"]
            if r.input_rate is not None:
                parts.append(f"rate={r.input_rate:.1f}/s")
            if r.lag is not None:
                parts.append(f"lag={r.lag}")
            if state is not None:
                parts.append(state)
            if r.last_error:
                parts.append(f"error={r.last_error.splitlines()[0]}")
            self.out.write(" ".join(parts) + "\n")
        self.out.flush()


def render_verdicts(pipeline: str, verdicts: list) -> str:
    lines = [f"pipeline {pipeline}: what starting the stream would do"]
    lines += ["  " + v.render() for v in verdicts]
    return "\n".join(lines)


def run_streams(pl, select, full_refresh, until_idle: bool, profile: str, interval: str, refresh: float, title: str, *,
                yes: bool = False, command: str = "kappa stream start", metrics_port: int | None = None,
                metrics_host: str = "127.0.0.1", as_json: bool = False) -> None:
    """Stream a pipeline's selected nodes with the live board (``kappa stream start``, ``kappa cdc start``);
    ``metrics_port``: serve Prometheus metrics there (:mod:`kappa.metrics_http`); ``as_json``: the
    board goes to stderr and the final summary to stdout as one JSON document
    (:mod:`kappa.summary_json`, with ``stop_reason``).

    The runner takes the pipeline lock before Spark starts, so a second run fails at once."""
    from kappa.cli.logs import OUTPUT
    from kappa.cli.options import confirm
    from kappa.runner import stream
    from kappa.runner.session import spark_log_file

    out = sys.stderr if as_json else sys.stdout
    log_file = spark_log_file(pl)  # Spark's own log goes there, never across the board
    boards: list[LiveBoard] = []
    noted: list[bool] = []

    def start(chosen: str) -> None:
        boards.append(LiveBoard(out, out.isatty(), f"{title} {pl.name} (profile {chosen})"))

    def update(rows: list) -> None:
        if not noted and not OUTPUT.quiet:  # the queries run: the file is in use
            print(f"spark log: {log_file}", file=sys.stderr, flush=True)
        noted.append(True)
        boards[-1].update(rows)

    def show_verdicts(verdicts: list) -> None:
        out.write(render_verdicts(pl.name, verdicts) + "\n")
        out.flush()

    outcome = stream(pl, select, profile=profile, until_idle=until_idle, interval=interval, refresh=refresh,
                     on_start=start, on_update=update, on_verdicts=show_verdicts,
                     quiet=True, prepare=confirm(command, full_refresh, yes), log_file=log_file,
                     metrics_port=metrics_port, metrics_host=metrics_host)
    if as_json:
        from kappa.summary_json import summary_json

        out.write(f"stopped: {outcome.stop_reason}\n")
        out.flush()
        doc = summary_json(outcome.summary, log_file=str(log_file) if log_file else None, stop_reason=outcome.stop_reason)
        sys.stdout.write(doc.model_dump_json(indent=2) + "\n")
        sys.stdout.flush()
        return
    out.write(f"stopped: {outcome.stop_reason}\n{outcome.summary.render()}\n")
    out.flush()


__all__ = ["LiveBoard", "render_verdicts", "run_streams"]
