"""Replay a pipeline in a test and get its tables back.

Example, in a test with the ``kafka_bootstrap`` fixture::

    tables = replay_pipeline("pipeline.yaml", variables={"bootstrap": kafka_bootstrap, "root": str(tmp_path)})
    assert tables["slv_stock_prices"].height == 42
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from kappa.models import Pipeline
    from kappa.summary import RunResult


def load(pipeline: "Pipeline | str | Path", variables: Mapping[str, Any] | None = None) -> "Pipeline":
    """A Pipeline from a model (returned as is) or a YAML path."""
    from kappa.config.loader import load_pipeline_file

    if isinstance(pipeline, (str, Path)):
        return load_pipeline_file(pipeline, variables=variables)
    return pipeline


def read_sink_table(sink_path: str, kind: str, fmt: str | None = None, storage_options: Mapping[str, Any] | None = None) -> "pl.DataFrame":
    """Read a Delta table (with its ``storage_options``, ``${env.X}`` resolved) or file sink into
    a Polars DataFrame."""
    import polars as pl

    if kind == "delta":
        from kappa.delta.read import read_delta
        from kappa.plan_kinds import resolve_secrets

        return pl.from_arrow(read_delta(sink_path, storage_options=resolve_secrets(storage_options) or None))
    from kappa.files import list_files, scan_files

    return scan_files(list_files(sink_path, fmt), fmt).collect()


def _exists(sink) -> bool:
    if "://" not in sink.path:
        return Path(sink.path).exists()
    if sink.kind != "delta":
        return True
    from kappa.delta.read import delta_version
    from kappa.plan_kinds import resolve_secrets

    return delta_version(sink.path, resolve_secrets(sink.storage_options) or None) is not None


def replay_pipeline(
    pipeline: "Pipeline | str | Path",
    variables: Mapping[str, Any] | None = None,
    select: Sequence[str] | None = None,
    engine: str = "polars",
) -> dict[str, "pl.DataFrame"]:
    """Run the pipeline once and return, per selected node, the table its first output sink holds
    (or its in-memory output when it has no sink). Quarantine tables come as ``<node>__quarantine``."""
    from kappa.connectors.registry import readable
    from kappa.plan import build_plan
    from kappa.runner import execute_pipeline

    pl_model = load(pipeline, variables)
    result = execute_pipeline(pl_model, select=select, engine=engine, keep_outputs=True)
    plan = build_plan(pl_model, select)
    out: dict[str, "pl.DataFrame"] = {}
    for node in plan.nodes:
        tables = [s for s in node.output_sinks if readable(s)]
        if tables:
            s = tables[0]
            out[node.name] = read_sink_table(s.path, s.kind, getattr(s, "format", None), getattr(s, "storage_options", None))
        elif result.output_df(node.name) is not None:
            out[node.name] = result.output_df(node.name).to_native().collect()
        for q in node.quarantine_sinks[:1]:
            if readable(q) and _exists(q):
                out[f"{node.name}__quarantine"] = read_sink_table(q.path, q.kind, getattr(q, "format", None),
                                                                  getattr(q, "storage_options", None))
    last: "RunResult" = result  # reads like the summary (ok, node(), render())
    replay_pipeline.last_summary = last  # type: ignore[attr-defined]
    return out
