"""A plain in-memory model of AUTO CDC, one event at a time: the tests' reference.

Events are dicts with ``op`` ('upsert' | 'delete' | 'truncate'), the key columns, the
sequence columns and value columns, in arrival order. Rows are plain dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _coalesce(new: dict, old: dict) -> dict:
    return {c: (v if v is not None else old.get(c)) for c, v in new.items()}


def scd1(events: list[dict], *, keys: list[str], seq: list[str], columns: list[str],
         ignore_null: bool) -> list[dict]:
    """The target table after ``events`` (SCD type 1), as a list of rows."""
    state: dict[tuple, tuple[tuple, dict | None]] = {}  # key -> (order key, row or None)
    watermark = None  # order key of the newest applied truncate
    for e in events:
        order = (tuple(e[s] for s in seq), 0 if e["op"] == "upsert" else 1)
        if e["op"] == "truncate":
            if watermark is None or order >= watermark:
                watermark = order
                for k, (k_order, _row) in list(state.items()):
                    if k_order < order:
                        state[k] = (order, None)
            continue
        key = tuple(e[k] for k in keys)
        floors = [o for o in (state.get(key, (None,))[0], watermark) if o is not None]
        if floors and order < max(floors):
            continue  # older than what the table reflects
        if e["op"] == "delete":
            state[key] = (order, None)
            continue
        row = {c: e[c] for c in columns}
        current = state.get(key, (None, None))[1]
        if ignore_null and current is not None:
            row = _coalesce(row, current)
        state[key] = (order, row)
    return [row for _order, row in state.values() if row is not None]


@dataclass
class _Version:
    start: tuple
    row: dict
    end: tuple | None = None


@dataclass
class _Key:
    versions: list[_Version] = field(default_factory=list)
    current: _Version | None = None


def scd2(events: list[dict], *, keys: list[str], seq: list[str], columns: list[str],
         tracked: list[str], ignore_null: bool) -> list[dict]:
    """The SCD type 2 history after ``events``: rows with ``__START_AT`` / ``__END_AT``
    (tuples of the sequence values)."""
    by_key: dict[tuple, list[dict]] = {}
    for e in events:
        by_key.setdefault(tuple(e[k] for k in keys), []).append(e)
    out: list[dict] = []
    for key_events in by_key.values():
        deletes = {tuple(e[s] for s in seq) for e in key_events if e["op"] == "delete"}
        upserts: dict[tuple, list[dict]] = {}
        for e in key_events:  # arrival order kept within a sequence value
            s = tuple(e[c] for c in seq)
            if e["op"] == "upsert" and s not in deletes:
                upserts.setdefault(s, []).append({c: e[c] for c in columns})
        k = _Key()
        for s in sorted(deletes | set(upserts)):
            if s in deletes:
                if k.current is not None:
                    k.current.end = s
                    k.current = None
                continue
            value = k.current.row if k.current is not None else None
            for r in upserts[s]:
                value = _coalesce(r, value) if (ignore_null and value is not None) else r
            if k.current is None:
                k.current = _Version(s, value)
                k.versions.append(k.current)
            elif any(value[c] != k.current.row[c] for c in tracked):
                k.current.end = s
                k.current = _Version(s, value)
                k.versions.append(k.current)
            else:
                k.current.row = value
        for v in k.versions:
            out.append({**v.row, "__START_AT": v.start, "__END_AT": v.end})
    return out
