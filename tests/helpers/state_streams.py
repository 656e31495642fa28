"""Random event streams for the state property tests (hypothesis strategies), and their Delta source.

An event is ``{"id", "key", "ts", "v"}`` (:mod:`tests.helpers.state_oracle`'s shape): ``ts``
in whole seconds (as microseconds) from :data:`BASE`, trending upwards by about
``step_s`` seconds an event with jitter, so event times arrive out of order and a jump back of
more than the watermark delay makes a late row; several keys; small integer values; about one
event in six an identical copy of an earlier one (same ``id``: a duplicate, possibly in a later
batch). ``(key, ts)`` is unique among distinct events, so ``min_by``/``max_by`` have no ties
and a dedup keeps the same row whatever the order within a batch. :func:`streams` cuts the
events into random non-empty batches (one Delta commit and one pipeline run each).
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import strategies as st

from tests.helpers.state_oracle import US

#: 2024-01-01T00:00:00Z in microseconds: the first event time.
BASE = 1_704_067_200 * US
KEYS = ("a", "b", "c")


@st.composite
def events(draw, max_events: int = 30, step_s: int = 40, back_s: int = 900, ahead_s: int = 120) -> list[dict]:
    """A list of events in arrival order (see the module doc)."""
    n = draw(st.integers(1, max_events))
    out: list[dict] = []
    seen: set[tuple[str, int]] = set()
    for i in range(n):
        if out and draw(st.integers(0, 5)) == 0:
            out.append(dict(draw(st.sampled_from(out))))  # an identical duplicate
            continue
        key = draw(st.sampled_from(KEYS))
        offset = max(0, i * step_s + draw(st.integers(-back_s, ahead_s)))
        while (key, offset) in seen:  # one event per (key, time)
            offset += 1
        seen.add((key, offset))
        out.append({"id": len(seen), "key": key, "ts": BASE + offset * US, "v": draw(st.integers(-20, 20))})
    return out


@st.composite
def cuts(draw, rows: list[dict], max_batches: int = 5) -> list[list[dict]]:
    """``rows`` cut into 1..max_batches non-empty consecutive batches."""
    k = draw(st.integers(1, min(max_batches, len(rows))))
    points = sorted(draw(st.lists(st.integers(1, len(rows) - 1), min_size=k - 1, max_size=k - 1, unique=True))) if k > 1 else []
    bounds = [0, *points, len(rows)]
    return [rows[a:b] for a, b in zip(bounds, bounds[1:])]


@st.composite
def streams(draw, max_events: int = 30, max_batches: int = 5) -> list[list[dict]]:
    """Events cut into batches: a list of batches of events."""
    return draw(cuts(draw(events(max_events)), max_batches))


def write_batch(path: Path, rows: list[dict]) -> None:
    """Append ``rows`` to the Delta table at ``path`` as ONE commit (``ts`` as timestamp[us, UTC])."""
    import pyarrow as pa
    from deltalake import write_deltalake

    schema = pa.schema([("id", pa.int64()), ("key", pa.string()), ("ts", pa.timestamp("us", "UTC")), ("v", pa.int64())])
    table = pa.table({
        "id": [r["id"] for r in rows], "key": [r["key"] for r in rows],
        "ts": pa.array([r["ts"] for r in rows], pa.int64()).cast(pa.timestamp("us", "UTC")), "v": [r["v"] for r in rows],
    }, schema=schema)
    write_deltalake(str(path), table, mode="append")


def show(cut: list[list[dict]]) -> str:
    """The batches as compact text for a failure message (``key@seconds=v#id`` per event)."""
    return " | ".join(" ".join(f"{r['key']}@{(r['ts'] - BASE) // US}={r['v']}#{r['id']}" for r in b) for b in cut)
