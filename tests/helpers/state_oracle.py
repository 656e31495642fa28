"""A plain reference model of Spark's streaming state rules: the property tests' oracle.

Independent of kappa's engines on purpose (it imports nothing from ``kappa``): a micro-batch
simulator written straight from Spark's operators (``EventTimeWatermarkExec``,
``StreamingDeduplicateExec``, ``StreamingDeduplicateWithinWatermarkExec``,
``StateStoreSaveExec``) and MicroBatchExecution's loop, one row at a time, with dicts for
state. Slow and obviously correct rather than fast.

Input: the runs' data, ``cuts`` (one list of event dicts per run of the pipeline, in arrival
order; each run is one availableNow trigger that reads everything new as ONE data batch) and a
:class:`Query`. Events have ``id`` (int), ``key`` (str), ``ts`` (event time, microseconds since
the epoch, UTC), ``v`` (int). Output: every micro-batch (data and no-data) with the watermarks
it used, the rows it emitted and the rows it dropped as late (:class:`MicroBatch`), the
watermark after the last batch and the rows left in state; :meth:`Result.table` is what the
sink holds (append: every emitted row; upsert: the last emitted row per key; complete: the
last batch's rows).

The rules (STATE_SEMANTICS.md, checked against local Spark 4.2 by
tests/pipelines/test_state_oracle.py):

- ``wm[0] = 0``; after a batch with rows, ``wm = max(wm, max_event_ms - delay_ms)`` (Spark
  tracks event times in milliseconds); the watermark never moves back.
- a stateful operator drops late rows with the previous batch's watermark and evicts/emits with
  the current batch's;
- a no-data batch runs after a data batch when the new watermark is above the batch's and the
  operator is a dedup or an append/update aggregate (``shouldRunAnotherBatch``), also under
  availableNow; open windows stay in state at the end of the input;
- late: a window group whose ``end <= wm_late`` (per window: a sliding-window row may be late
  for some of its windows only; it counts as a late row when late for all of them), a dedup row
  whose ``ts <= wm_late``; complete mode drops nothing;
- eviction: window groups with ``end <= wm_evict`` (append: emitted then removed; update: the
  touched groups are emitted first, then the expired ones removed silently); dedup keys holding
  the event time with ``ts <= wm_evict``; dedup within watermark: keys whose
  ``first ts + delay <= wm_evict``;
- session windows: a row opens ``[ts, ts + gap)``, late when that ends ``<= wm_late``; a key's
  sessions that overlap or touch merge (across batches too); append emits a session once its
  end ``<= wm_evict``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

US = 1_000_000
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
COLUMNS = ("id", "key", "ts", "v")


def to_datetime(us: int) -> dt.datetime:
    """Microseconds since the epoch as an aware UTC datetime (how a Delta reader returns them)."""
    return EPOCH + dt.timedelta(microseconds=us)


@dataclass(frozen=True)
class Query:
    """One stateful node over the events: ``with_watermark(ts, delay)`` (``delay_us`` None: no
    watermark) followed by one operator.

    - ``dedup``: ``unique`` on ``subset`` (None: all columns); ``dedup_within``:
      ``drop_duplicates_within_watermark(subset)``;
    - ``window``: ``GROUP BY window(ts, size[, slide]), key`` with :data:`AGGREGATES`;
    - ``session``: ``GROUP BY session_window(ts, gap), key`` (gap in ``size_us``; append only:
      Spark refuses update mode for sessions);
    - ``aggregate``: ``GROUP BY key`` with :data:`AGGREGATES` and ``avg(v)``.
    """

    op: Literal["dedup", "dedup_within", "window", "session", "aggregate"]
    mode: Literal["append", "update", "complete"] = "append"
    delay_us: int | None = None
    subset: tuple[str, ...] | None = None
    size_us: int | None = None
    slide_us: int | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """The sink's upsert keys (the grouping keys, the window struct included)."""
        return {"window": ("window", "key"), "session": ("session_window", "key")}.get(self.op, ("key",))

    @property
    def acts_on_watermark(self) -> bool:
        """Whether Spark runs a no-data batch when the watermark moves (``shouldRunAnotherBatch``)."""
        if self.delay_us is None:
            return False
        return self.op in ("dedup", "dedup_within") or self.mode in ("append", "update")


#: The aggregates of the ``window`` / ``aggregate`` queries: output column -> SQL.
AGGREGATES = {
    "n": "count(*)",
    "total": "sum(v)",
    "lo": "min(v)",
    "hi": "max(v)",
    "first_v": "min_by(v, ts)",
    "last_v": "max_by(v, ts)",
}


@dataclass
class MicroBatch:
    """One Spark micro-batch: its id, whether it had data, the watermarks it used, what it emitted."""

    batch_id: int
    data: bool
    wm_late: int
    wm_evict: int
    rows: list[dict] = field(default_factory=list)
    late_rows: int = 0


@dataclass
class Result:
    """Every micro-batch, the watermark after the last one and the rows left in state."""

    query: Query
    batches: list[MicroBatch]
    watermark: int
    state_rows: int

    @property
    def late_rows(self) -> int:
        return sum(b.late_rows for b in self.batches)

    def table(self, sink: Literal["append", "upsert", "complete"] | None = None) -> list[dict]:
        """What the sink holds: ``append`` every emitted row, ``upsert`` the last row emitted per
        :attr:`Query.keys`, ``complete`` the last batch's whole result. Default: complete for a
        complete-mode query, upsert for update mode, append otherwise."""
        sink = sink or {"complete": "complete", "update": "upsert"}.get(self.query.mode, "append")
        if sink == "append":
            return [r for b in self.batches for r in b.rows]
        if sink == "complete":
            emitted = [b for b in self.batches if b.data]
            return list(emitted[-1].rows) if emitted else []
        table: dict[tuple, dict] = {}
        for b in self.batches:
            for r in b.rows:
                table[tuple(_hashable(r[k]) for k in self.query.keys)] = r
        return list(table.values())


def _hashable(value):
    return tuple(sorted(value.items())) if isinstance(value, dict) else value


# ------------------------------------------------------------------ windows
def windows_of(ts: int, size: int, slide: int | None) -> list[tuple[int, int]]:
    """Every window ``[start, start + size)`` holding ``ts``, starts on multiples of ``slide``
    (tumbling: ``slide = size``), in start order."""
    slide = slide or size
    first = (ts - size) // slide * slide  # a start at or before any window holding ts
    return [(s, s + size) for s in range(first, ts + 1, slide) if s <= ts < s + size]


def _aggregate_row(group: tuple, rows: list[dict], windowed: bool, column: str = "window") -> dict:
    values = [r["v"] for r in rows]
    out: dict = {}
    if windowed:
        (start, end), key = group
        out[column] = {"start": to_datetime(start), "end": to_datetime(end)}
    else:
        key = group
    out["key"] = key
    out["n"] = len(rows)
    out["total"] = sum(values)
    out["lo"] = min(values)
    out["hi"] = max(values)
    out["first_v"] = min(rows, key=lambda r: r["ts"])["v"]
    out["last_v"] = max(rows, key=lambda r: r["ts"])["v"]
    if not windowed:
        out["mean"] = sum(values) / len(values)
    return out


# ------------------------------------------------------------------ the simulator
class _Operator:
    """One stateful operator's state and its batch step (rows in, rows out)."""

    def __init__(self, q: Query):
        self.q = q
        self.dedup: dict[tuple, int] = {}  # key -> event time (dedup) or expiry (within watermark)
        self.groups: dict[tuple, list[dict]] = {}  # group -> its rows (the aggregation state)

    def state_rows(self) -> int:
        return len(self.dedup) + len(self.groups)

    def step(self, rows: list[dict], wm_late: int, wm_evict: int) -> tuple[list[dict], int]:
        if self.q.op in ("dedup", "dedup_within"):
            return self._dedup(rows, wm_late, wm_evict)
        if self.q.op == "session":
            return self._sessions(rows, wm_late, wm_evict)
        return self._aggregate(rows, wm_late, wm_evict)

    def _sessions(self, rows, wm_late, wm_evict):
        """Each row opens ``[ts, ts + gap)`` (late when that ends ``<= wm_late``); the sessions of
        a key that overlap or touch merge; append emits and forgets those ending ``<= wm_evict``."""
        gap, late = self.q.size_us, 0
        for r in rows:
            if self.q.delay_us is not None and r["ts"] + gap <= wm_late:
                late += 1
                continue
            self.groups.setdefault(((r["ts"], r["ts"] + gap), r["key"]), []).append(r)
        merged: dict[tuple, list[dict]] = {}
        for (start, end), key in sorted(self.groups, key=lambda g: (g[1], g[0])):
            rows_ = self.groups[((start, end), key)]
            last = next((g for g in reversed(merged) if g[1] == key), None)
            if last is not None and start <= last[0][1]:
                (s0, e0), _ = last
                merged[((s0, max(e0, end)), key)] = merged.pop(last) + rows_
            else:
                merged[((start, end), key)] = list(rows_)
        self.groups = merged
        expired = [g for g in self.groups if self.q.delay_us is not None and g[0][1] <= wm_evict]
        out = [_aggregate_row(g, self.groups.pop(g), True, "session_window") for g in expired]
        return out, late

    def _dedup(self, rows, wm_late, wm_evict):
        q, out, late = self.q, [], 0
        subset = q.subset or COLUMNS
        watermarked = q.delay_us is not None
        for r in rows:
            if watermarked and r["ts"] <= wm_late:
                late += 1
                continue
            key = tuple(r[c] for c in subset)
            if key in self.dedup:
                continue
            self.dedup[key] = r["ts"] + q.delay_us if q.op == "dedup_within" else r["ts"]
            out.append({**r, "ts": to_datetime(r["ts"])})
        if watermarked and (q.op == "dedup_within" or "ts" in subset):
            self.dedup = {k: t for k, t in self.dedup.items() if not t <= wm_evict}
        return out, late

    def _aggregate(self, rows, wm_late, wm_evict):
        q, late, touched = self.q, 0, []
        windowed = q.op == "window"
        drops = q.delay_us is not None and windowed and q.mode != "complete"
        for r in rows:
            groups = [(w, r["key"]) for w in windows_of(r["ts"], q.size_us, q.slide_us)] if windowed else [r["key"]]
            kept = [g for g in groups if not (drops and g[0][1] <= wm_late)]
            late += not kept  # a row dropped: late for every one of its windows
            for g in kept:
                self.groups.setdefault(g, []).append(r)
                if g not in touched:
                    touched.append(g)
        expired = [g for g in self.groups if windowed and q.delay_us is not None and g[0][1] <= wm_evict]
        if q.mode == "complete":
            return [_aggregate_row(g, rs, windowed) for g, rs in self.groups.items()], late
        if q.mode == "update":
            out = [_aggregate_row(g, self.groups[g], windowed) for g in touched]
        else:
            out = [_aggregate_row(g, self.groups[g], windowed) for g in expired]
        for g in expired:
            del self.groups[g]
        return out, late


def simulate(q: Query, cuts: list[list[dict]], *, no_data_batches: bool = True) -> Result:
    """Run ``q`` over ``cuts`` (one list of events per run) as Spark's micro-batches do."""
    op = _Operator(q)
    batches: list[MicroBatch] = []
    wm = 0  # the watermark tracker (microseconds, a whole number of milliseconds)

    def run(rows: list[dict]) -> None:
        nonlocal wm
        wm_late = batches[-1].wm_evict if batches else 0
        batch = MicroBatch(len(batches), bool(rows), wm_late, wm)
        batch.rows, batch.late_rows = op.step(rows, wm_late, wm)
        batches.append(batch)
        if rows and q.delay_us is not None:
            max_ms = max(r["ts"] for r in rows) // 1000
            wm = max(wm, (max_ms - q.delay_us // 1000) * 1000)

    for rows in cuts:
        if not rows:
            continue  # nothing new: an availableNow run starts no batch
        run(rows)
        if no_data_batches and q.acts_on_watermark and wm > batches[-1].wm_evict:
            run([])
    return Result(q, batches, wm, op.state_rows())


# ------------------------------------------------------------------ recompute (the upsert property)
def recompute(events: list[dict]) -> list[dict]:
    """``SELECT key, <AGGREGATES>, avg(v) AS mean FROM events GROUP BY key`` in plain Polars: what
    an update-mode upsert table of the ``aggregate`` query equals after every batch."""
    import polars as pl

    if not events:
        return []
    df = pl.DataFrame(events, schema={"id": pl.Int64, "key": pl.String, "ts": pl.Int64, "v": pl.Int64})
    out = df.group_by("key").agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("v").sum().alias("total"),
        pl.col("v").min().alias("lo"),
        pl.col("v").max().alias("hi"),
        pl.col("v").sort_by("ts").first().alias("first_v"),
        pl.col("v").sort_by("ts").last().alias("last_v"),
        pl.col("v").mean().alias("mean"),
    )
    return out.to_dicts()
