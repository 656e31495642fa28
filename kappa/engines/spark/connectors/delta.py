"""Delta sources and sinks of the Spark engine.

A source is ``format("delta")`` on the ``jvm`` profile, ``kappa_delta`` on ``python`` (its
``storage.*`` options carry the object-store options; it keeps its initial offset in the
query's checkpoint). A sink appends or overwrites idempotently: ``python``
:func:`~kappa.engines.spark.datasources.delta_sink.write_delta_frame` (executors write Parquet,
the driver commits every task's files in one Delta transaction carrying the app transaction
``(app_id, batch_id)``); ``jvm`` :func:`~kappa.engines.spark.delta_writer.jvm_delta_write`
(``txnAppId``/``txnVersion``). Its row count comes from an observed metric of the write itself.
``mode: upsert`` MERGEs each batch on the sink's keys (:mod:`kappa.engines.spark.connectors.upsert`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from kappa.engines.spark.connectors.base import SinkWriter, SourceReader
from kappa.engines.spark.sources import ReadDescription, SourceNotReady, _initial_option, _values
from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan_kinds import DeltaSinkPlan, DeltaSourcePlan


def delta_options(spec: Any, profile: str, redact: bool = False, batch: bool = False) -> dict[str, str]:
    """Delta source options (``storage.*`` only for ``kappa_delta``)."""
    out: dict[str, str] = {}
    if batch:
        if spec.version is not None:
            out["versionAsOf"] = str(spec.version)
    else:
        if spec.starting_version is not None:
            out["startingVersion"] = str(spec.starting_version)
        if spec.skip_change_commits:
            out["skipChangeCommits"] = "true"
    if profile == "python" and spec.storage_options:
        out.update({f"storage.{k}": v for k, v in _values(spec.storage_options, redact).items()})
    return out


def _delta_exists(path: str, storage_options: Mapping[str, str]) -> bool:
    from kappa.delta.read import delta_version

    return delta_version(path, _values(storage_options, False)) is not None


class DeltaReader(SourceReader):
    def describe(self, source: "DeltaSourcePlan", profile: str, redact: bool) -> ReadDescription:
        from kappa.engines.spark.datasources.readers import FORMATS

        return ReadDescription(FORMATS[("delta", profile)], delta_options(source, profile, redact, not source.streaming), source.path)

    def build_stream(self, spark: "SparkSession", source: "DeltaSourcePlan", profile: str, checkpoint_location: str | None) -> "DataFrame":
        from kappa.engines.spark.datasources.readers import FORMATS

        if not _delta_exists(source.path, source.storage_options):
            raise SourceNotReady(f"Delta table {source.path} does not exist yet")
        fmt = FORMATS[("delta", profile)]
        options = {**delta_options(source, profile), **_initial_option(profile, checkpoint_location)}
        return spark.readStream.format(fmt).options(**options).load(source.path)

    def read_static(self, spark: "SparkSession", source: "DeltaSourcePlan", profile: str, memory: Mapping[str, Any], decode: bool) -> "DataFrame":
        from kappa.engines.spark.datasources.readers import FORMATS

        if not _delta_exists(source.path, source.storage_options):
            raise KappaError(f"Delta table {source.path} does not exist (yet)")
        fmt = FORMATS[("delta", profile)]
        return spark.read.format(fmt).options(**delta_options(source, profile, batch=True)).load(source.path)

    def ready(self, source: "DeltaSourcePlan", memory: Mapping[str, Any]) -> bool:
        return _delta_exists(source.path, source.storage_options)

    lag_profiles = ("python",)

    def lag(self, source: "DeltaSourcePlan", committed: Any) -> dict[str, Any]:
        from kappa.delta.read import delta_version
        from kappa.engines.spark.lag import delta_lag
        from kappa.plan_kinds import resolve_secrets

        latest = delta_version(source.path, resolve_secrets(source.storage_options))
        lag = delta_lag(committed, latest) if committed is not None else (None if latest is None else latest + 1)
        return {"delta_latest": latest, "delta_lag": lag}

    def state(self, source: "DeltaSourcePlan") -> Any:
        from kappa.delta.read import delta_version
        from kappa.plan_kinds import resolve_secrets

        return [source.path, source.version, delta_version(source.path, resolve_secrets(source.storage_options))]


def delta_schema_mode(schema_mode: str, mode: str) -> str | None:
    """deltalake ``schema_mode`` of a sink (the Polars engine's mapping)."""
    if schema_mode == "strict":
        return None
    if schema_mode == "overwrite" and mode == "overwrite":
        return "overwrite"
    return "merge"


class DeltaSinkWriter(SinkWriter):
    delta_table = True

    def describe(self, sink: "DeltaSinkPlan", profile: str) -> dict[str, Any]:
        out: dict[str, Any] = {"path": sink.path, "app_id": sink.app_id, **self._writer(sink, profile)}
        if sink.partition_by:
            out["partition_by"] = list(sink.partition_by)
        out["schema_mode"] = sink.schema_mode
        if sink.storage_options:
            out["storage_options"] = _values(sink.storage_options, True)
        return out

    def _writer(self, sink: "DeltaSinkPlan", profile: str) -> dict[str, Any]:
        if sink.mode == "upsert":
            from kappa.engines.spark.connectors import upsert

            return upsert.describe(sink, profile)
        if profile == "jvm":
            return {"writer": "delta-spark (txnAppId/txnVersion)"}
        return {"writer": "kappa_delta_sink (executors write Parquet, the driver commits them with the app transaction)"}

    def write(self, sink: "DeltaSinkPlan", df: "DataFrame", batch_id: int, profile: str) -> int:
        if sink.mode == "upsert":
            from kappa.engines.spark.connectors import upsert

            return upsert.write(sink, df, batch_id, profile)
        if profile == "jvm":
            from kappa.engines.spark.delta_writer import jvm_delta_write

            from kappa.engines.spark.datasources.sink_support import observed, observed_rows

            frame, obs = observed(df)
            jvm_delta_write(frame, batch_id, sink.path, sink.mode, sink.app_id, list(sink.partition_by) or None, sink.schema_mode != "strict")
            return observed_rows(obs)
        from kappa.engines.spark.datasources.delta_sink import write_delta_frame

        return write_delta_frame(
            df,
            table_uri=sink.path,
            mode=sink.mode,
            app_id=sink.app_id,
            batch_id=batch_id,
            partition_by=list(sink.partition_by) or None,
            storage_options=dict(sink.storage_options) or None,
            schema_mode=delta_schema_mode(sink.schema_mode, sink.mode),
        )
