"""The ``kappa`` command line. Heavy libraries are imported inside the commands.

Error path (design note): every failure ends in one or a few lines on stderr and an exit code,
never a traceback unless ``--debug`` (or ``KAPPA_DEBUG=1``) asks for it:

- kappa's own errors (:class:`kappa.errors.KappaError`) print ``error: <message>``; a run
  prints its per-node summary first. A :class:`~kappa.errors.ConfigError` located in a file
  prints ``file:line: field: message``. Exit code: the error's ``exit_code`` (1 run failure,
  2 configuration).
- usage errors (unknown command or option, missing argument) print one line and exit 2. Typer
  bundles its own copy of click, so they are caught through typer's public
  ``typer.TyperException`` (the base of its click exceptions since typer 0.29), never ``click``.
- Ctrl-C exits 130; anything else is a bug: ``error: <Type>: <message>`` and exit 1.
"""

from __future__ import annotations

import os
import sys

from kappa.cli.logs import configure_logging
from kappa.runner import debug_enabled

EXIT_RUN_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _kappa_error_text(exc: BaseException) -> str:
    """``error: ...`` for a KappaError, naming the node when the engine attached one."""
    text = str(exc)
    issues = getattr(exc, "issues", None)
    if issues is not None and any(getattr(i, "file", None) for i in issues):
        return text  # file:line: field: message
    if issues is not None:
        text = "\n".join(i.message if not i.path else f"{i.path}: {i.message}" for i in issues)
    node = getattr(exc, "node", None)
    if node and f"node {node!r}" not in text:
        text = f"node {node!r} {text}" if text.startswith(("source:", "sink:")) else f"node {node!r}: {text}"
    return f"error: {text}"


def _usage_error_text(exc: BaseException) -> str:
    """One line for a usage error: what is wrong and where to look."""
    message = " ".join(str(exc.format_message()).split())  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "kappa"
    return f"error: {message} (see '{path} --help')"


def _unexpected(exc: BaseException) -> int:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("An error occurred while calling"):  # py4j: the Java error follows
        lines = [lines[1].lstrip(": ")]
    what = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    _err(f"error: {what} (run with --debug for the traceback)")
    return EXIT_RUN_FAILURE


def main(argv: list[str] | None = None) -> None:
    """Entry point: runs the Typer app and turns every failure into a short message + exit code."""
    try:
        code = _run(argv)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    if argv is None:  # the `kappa` command itself: its process ends now (tests call main(argv) in-process)
        _before_exit()
    if code:
        sys.exit(code)  # success returns normally (tests call main() in-process)


def _before_exit() -> None:
    """Collect the garbage, then freeze what is left, so the interpreter's shutdown skips it.

    Design note (issue 14). Python's shutdown runs the cyclic GC over the whole heap more than once
    (before and while it tears the modules down): with the ~60k GC-tracked objects of a run's
    imports (pydantic's schemas, kappa's models, Polars, pyarrow) that cost ~0.07 s of CPU per
    ``kappa replay``, more than a small replay's data work. Every object still alive here is
    reachable (the collection just before finds all garbage and runs its finalizers, as the
    shutdown's would); ``gc.freeze()`` moves them to the permanent generation, which the
    shutdown's collections do not traverse. What happens at exit otherwise is unchanged: atexit
    handlers run, modules are torn down, objects freed by reference counting are finalized. Only
    the command's own process does this (``argv is None``): a caller of :func:`main` keeps its
    collector as it was. Measured (benchmarks/replay_floor.py's Delta node, a child process
    calling the same two lines after the run): 0.597 -> 0.524 s CPU, exit 0.092 -> 0.017 s."""
    import gc

    if gc.isenabled() and not gc.get_freeze_count():
        gc.collect()
        gc.freeze()


def _run(argv: list[str] | None) -> int:
    # Plain help and errors: Rich's formatting costs ~0.25 s per call (TYPER_USE_RICH=1 brings it back)
    os.environ.setdefault("TYPER_USE_RICH", "0")
    import typer

    from kappa.errors import KappaError

    if debug_enabled():
        configure_logging(debug=True)
    try:
        from kappa.cli.app import app

        rv = app(args=argv, prog_name="kappa", standalone_mode=False)
    except KappaError as exc:
        if debug_enabled():
            import traceback

            traceback.print_exc()
        summary = getattr(exc, "summary", None)  # a RunFailed carries the run's summary
        if summary is not None and not getattr(exc, "summary_shown", False):  # --json printed it
            _err(summary.render())
        _err(_kappa_error_text(exc))
        return int(getattr(exc, "exit_code", EXIT_RUN_FAILURE))
    except typer.TyperException as exc:  # usage errors of typer's bundled click
        if exc.__class__.__name__ == "NoArgsIsHelpError":
            exc.show()  # type: ignore[attr-defined]  # `kappa` alone: the help text
        else:
            _err(_usage_error_text(exc))
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except typer.Abort:
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return int(exc.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug_enabled():
            raise
        return _unexpected(exc)
    # In non-standalone mode typer returns the code of a `typer.Exit` (130 for Ctrl-C).
    if isinstance(rv, int) and not isinstance(rv, bool):
        return rv
    return 0
