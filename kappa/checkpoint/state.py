"""A streaming node's state in its description, and the verdict on a change of it.

Design note: a node's description (:mod:`kappa.checkpoint.query`) gets a ``state`` entry only
when the node has state (``NodePlan.state``), so the fingerprints and digests of stateless nodes
are what they always were. A non-streaming node with an aggregate step is described as
``"materialized view (full recompute)"``: a text that :func:`kappa.checkpoint.verdicts.canonical`
leaves out of the digest (it holds no state). :func:`state_changes` judges two ``state``
entries: the output mode, the watermark (column, delay) and each operator's identity (a dedup's
subset, an aggregate's keys, calls and window) are what the checkpointed state was built with;
the step indices and output column names of the aggregates are not.

>>> from kappa.stateful.spec import StatefulPlan, WatermarkSpec
>>> a = state_description(StatefulPlan("append", WatermarkSpec(0, "ts", "10 minutes", 600_000_000)))
>>> b = dict(a, watermark=dict(a["watermark"], delay="1 hour"))
>>> state_changes(a, b)[0]
[]
"""

from __future__ import annotations

from typing import Any, Mapping

from kappa.stateful.analyze import MATERIALIZED_VIEW


def _window(window: Any) -> dict[str, Any] | None:
    if window is None:
        return None
    out: dict[str, Any] = {"kind": window.kind, "column": window.column}
    if window.kind == "session":
        out.update(gap=window.gap, gap_us=window.gap_us)
    else:
        out.update(size=window.size, size_us=window.size_us)
        if window.slide_us is not None:
            out.update(slide=window.slide, slide_us=window.slide_us)
        if window.start_us:
            out["start_us"] = window.start_us
    return out


def _operator(op: Any) -> dict[str, Any]:
    if hasattr(op, "keys"):
        out: dict[str, Any] = {"kind": "aggregate", "step": op.step, "keys": list(op.keys), "window": _window(op.window)}
        if op.window_output is not None:
            out["window_output"] = op.window_output
        if op.window_fields:
            out["window_fields"] = [list(f) for f in op.window_fields]
        out["aggregates"] = [{"func": c.func, "args": list(c.args), "output": c.output} for c in op.calls]
        return out
    return {"kind": "dedup", "step": op.step, "subset": None if op.subset is None else list(op.subset),
            "within_watermark": op.within_watermark}


def state_description(state: Any) -> dict[str, Any]:
    """A :class:`~kappa.stateful.spec.StatefulPlan` as descriptions store it."""
    wm = state.watermark
    return {
        "output_mode": state.output_mode,
        "watermark": None if wm is None else {"step": wm.step, "column": wm.column, "delay": wm.delay, "delay_us": wm.delay_us},
        "operators": [_operator(op) for op in state.operators],
    }


def node_state(node: Any) -> dict[str, Any] | str | None:
    """The ``state`` entry of a node plan's description (None: none)."""
    if node.state is not None:
        return state_description(node.state)
    from kappa.stateful.analyze import is_materialized_view

    return MATERIALIZED_VIEW if is_materialized_view(node) else None


def operator_steps(desc: Mapping[str, Any]) -> set[int]:
    """Step indices of the stateful operators (and the watermark) a description's state names."""
    state = desc.get("state")
    if not isinstance(state, Mapping):
        return set()
    steps = {op.get("step") for op in state.get("operators") or []}
    if state.get("watermark"):
        steps.add(state["watermark"].get("step"))
    return steps


def _identity(op: Mapping[str, Any]) -> tuple:
    if op.get("kind") == "aggregate":
        calls = tuple((c.get("func"), tuple(c.get("args") or ())) for c in op.get("aggregates") or [])
        return ("aggregate", tuple(op.get("keys") or ()), calls, repr(op.get("window")))
    return ("dedup", tuple(op.get("subset") or ()) if op.get("subset") is not None else None, bool(op.get("within_watermark")))


def _wm_text(wm: Mapping[str, Any] | None) -> str:
    return "none" if not wm else f"{wm.get('column')} delay {wm.get('delay')}"


def _calls_text(op: Mapping[str, Any]) -> str:
    return ", ".join(f"{c.get('func')}({', '.join(c.get('args') or []) or '*'})" for c in op.get("aggregates") or [])


def _operator_change(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    if a.get("kind") != b.get("kind"):
        return f"stateful operator at step {a.get('step')} ({a.get('kind')}) replaced by {b.get('kind')}"
    where = f"step {b.get('step')}"
    if a.get("kind") == "dedup":
        return (f"{where}: dedup subset {a.get('subset')} -> {b.get('subset')}, within watermark "
                f"{a.get('within_watermark')} -> {b.get('within_watermark')}")
    parts = []
    if a.get("keys") != b.get("keys"):
        parts.append(f"keys {a.get('keys')} -> {b.get('keys')}")
    if _identity(a)[2] != _identity(b)[2]:
        parts.append(f"aggregates [{_calls_text(a)}] -> [{_calls_text(b)}]")
    if a.get("window") != b.get("window"):
        parts.append(f"window {a.get('window')} -> {b.get('window')}")
    return f"{where}: aggregate " + "; ".join(parts)


def state_changes(old: Any, new: Any) -> tuple[list[str], list[str]]:
    """(unsafe, safe) differences between two descriptions' ``state`` entries."""
    if not isinstance(old, Mapping) and not isinstance(new, Mapping):
        return [], []
    old_ops = list((old or {}).get("operators") or []) if isinstance(old, Mapping) else []
    new_ops = list((new or {}).get("operators") or []) if isinstance(new, Mapping) else []
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        if old_ops or new_ops:
            what = "added" if isinstance(new, Mapping) else "removed"
            return [f"stateful operators {what} (the checkpoint's state was built without them)"], []
        return [], ["watermark added or removed (no stateful operator uses it)"]
    unsafe: list[str] = []
    safe: list[str] = []
    if old.get("output_mode") != new.get("output_mode"):
        unsafe.append(f"output mode changed from {old.get('output_mode')} to {new.get('output_mode')}")
    wm_a, wm_b = old.get("watermark"), new.get("watermark")
    if (wm_a or {}).get("column") != (wm_b or {}).get("column") or (wm_a or {}).get("delay_us") != (wm_b or {}).get("delay_us"):
        reason = f"watermark changed from {_wm_text(wm_a)} to {_wm_text(wm_b)}"
        (unsafe if old_ops or new_ops else safe).append(reason + ("" if old_ops or new_ops else " (no stateful operator uses it)"))
    if [_identity(o) for o in old_ops] != [_identity(o) for o in new_ops]:
        if len(old_ops) != len(new_ops):
            unsafe.append(f"stateful operators changed: {len(old_ops)} -> {len(new_ops)} "
                          f"({', '.join(o.get('kind') for o in old_ops) or 'none'} -> {', '.join(o.get('kind') for o in new_ops) or 'none'})")
        else:
            unsafe += [_operator_change(a, b) for a, b in zip(old_ops, new_ops) if _identity(a) != _identity(b)]
    return unsafe, safe


def render_state(state: Any) -> list[str]:
    """A description's ``state`` entry as the indented lines ``kappa explain`` prints."""
    if state is None:
        return []
    if isinstance(state, str):
        return [f"  state: {state}"]
    wm = state.get("watermark")
    lines = [f"  state: output mode {state.get('output_mode')}, watermark " + (f"{wm['column']} delay {wm['delay']} (step {wm['step']})" if wm else "none")]
    for op in state.get("operators") or []:
        if op.get("kind") == "dedup":
            subset = ", ".join(op["subset"]) if op.get("subset") is not None else "all columns"
            tag = "dedup within watermark" if op.get("within_watermark") else "dedup (over the whole stream)"
            lines.append(f"    step {op['step']}: {tag} on {subset}")
            continue
        window = op.get("window")
        lines.append(f"    step {op['step']}: aggregate by {', '.join(op.get('keys') or []) or '(no keys: one row)'}")
        if window:
            span = f"gap {window['gap']}" if window["kind"] == "session" else f"size {window['size']}" + (
                f", slide {window['slide']}" if window.get("slide_us") else "") + (
                f", start {window['start_us']} us" if window.get("start_us") else "")
            lines.append(f"      window: {window['kind']} over {window['column']}, {span}")
        calls = [f"{c['func']}({', '.join(c['args']) or '*'})" + (f" AS {c['output']}" if c.get("output") else "")
                 for c in op.get("aggregates") or []]
        lines.append(f"      aggregates: {', '.join(calls) or 'none'}")
    return lines
