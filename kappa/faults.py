"""Failpoints: deterministic crash injection for crash tests.

``KAPPA_FAILPOINTS="before_commit"`` makes the process kill itself with SIGKILL (no cleanup,
like ``kill -9``) the first time it reaches :func:`failpoint("before_commit")`;
``name@N`` fires at the N-th time it is reached (1-based); ``name~S`` instead sleeps S seconds
every time it is reached (a slow batch, for drills that must land inside one). Several
comma-separated entries may be given. Unset (the normal case) it costs one dict lookup.

>>> failpoint("never_configured")  # no-op
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def _armed() -> dict[str, int | float]:
    """Failpoint name -> the hit that kills (int) or the seconds to sleep at every hit (float)."""
    spec = os.environ.get("KAPPA_FAILPOINTS", "")
    out: dict[str, int | float] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        if "~" in item:
            name, _, seconds = item.partition("~")
            out[name] = float(seconds)
        else:
            name, _, nth = item.partition("@")
            out[name] = int(nth or 1)
    return out


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``name`` is armed and its turn has come."""
    if "KAPPA_FAILPOINTS" not in os.environ:
        return
    target = _armed().get(name)
    if target is None:
        return
    if isinstance(target, float):
        import time

        time.sleep(target)
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == target:
        os.kill(os.getpid(), signal.SIGKILL)
