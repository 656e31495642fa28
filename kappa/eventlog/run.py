"""The event log around one run: :func:`recording` (used by :mod:`kappa.runner`).

Design note: the runner opens the recorder once the plan is built and the pipeline lock is
held, hands it to the engine, and closes it whatever happens: a failed run
(:class:`~kappa.errors.RunFailed`) adds an ``error`` row per failed node of its summary, any
error ends the ``run`` row with its message, then the rows are written (one commit). Setting
``KAPPA_EVENT_LOG=off`` (or ``0``/``false``/``no``) turns the event log off: the engines get None.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterable, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from kappa.eventlog.writer import EventLog

ENV_SWITCH = "KAPPA_EVENT_LOG"


def enabled() -> bool:
    """False when ``KAPPA_EVENT_LOG`` turns the event log off."""
    return os.environ.get(ENV_SWITCH, "on").strip().lower() not in ("off", "0", "false", "no")


def _message(exc: BaseException) -> str:
    inner = getattr(exc, "error", None)
    text = str(inner if isinstance(inner, BaseException) else exc)
    return text or type(exc).__name__


@contextmanager
def recording(folder: str, pipeline: str, engine: str, listeners: Iterable[Any] = (),
              storage_options: dict[str, Any] | None = None) -> Iterator["EventLog | None"]:
    """The recorder of a run of ``pipeline`` (checkpoint folder ``folder``) on ``engine``
    (None when the event log is off); written when the block ends, however it ends.
    ``storage_options``: of the table on an ``s3://`` checkpoint root (the pipeline's)."""
    from kappa.eventlog.writer import EventLog
    from kappa.plan_layout import event_log_path

    listeners = list(listeners)
    if not enabled() and not listeners:
        yield None
        return
    log = EventLog(event_log_path(folder), pipeline, engine, listeners=listeners, write=enabled(), storage_options=storage_options)
    try:
        yield log
    except BaseException as exc:
        log.finish(getattr(exc, "summary", None), _message(exc))
        raise
    log.finish()
