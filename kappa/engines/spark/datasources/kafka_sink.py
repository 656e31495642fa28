"""``kappa_kafka_sink``: a Kafka sink's batch write produced by the executors (python profile).

Called from ``foreachBatch`` code through :func:`write_kafka_frame`::

    rows = write_kafka_frame(batch_df, sink_spec)   # one Spark job, no collect

Each Spark task produces its own Arrow batches with confluent-kafka: the records are those of
:func:`kappa.kafka.writer.produce_rows` (:func:`~kappa.kafka.writer.sink_records`: key column,
value column or the whole row as one JSON object, same JSON encoding) over the batches cast to
``toArrow()``'s types, with one idempotent ``acks=all`` producer per task that is flushed
before the task ends; a delivery error fails the task and the job with kappa's
:class:`~kappa.kafka.writer.KafkaWriteError` naming the topic. At least once, as before: a
failed task or batch that Spark or kappa retries produces its records again.

Options (strings): ``bootstrap.servers``, ``topic``, ``keyColumn``, ``valueColumn`` (absent:
null keys / whole row) and ``option.<key>`` for each producer setting of the sink spec, kept
unresolved (``${env.NAME}``): the executor builds the configuration with
:func:`kappa.kafka.client.client_config` after :func:`kappa.substitution.resolve_secret_refs`,
exactly as :func:`kappa.kafka.client.kafka_conf` does on the driver, so resolved secrets never
travel in Spark's options (Spark also redacts option keys holding ``password``/``secret``).
Row counts come from an Observation on the written frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    WriterCommitMessage,
)

from kappa.engines.spark.datasources.sink_support import (
    arrow_schema,
    cast_batches,
    observed,
    observed_rows,
    save,
)

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame

NAME = "kappa_kafka_sink"
OPTION_PREFIX = "option."


def sink_options(spec: Any) -> dict[str, str]:
    """The data source options of a Kafka sink spec (producer settings left unresolved)."""
    opts = {"bootstrap.servers": spec.bootstrap_servers, "topic": spec.topic}
    if spec.key is not None:
        opts["keyColumn"] = spec.key
    if spec.value is not None:
        opts["valueColumn"] = spec.value
    opts.update({f"{OPTION_PREFIX}{k}": str(v) for k, v in (spec.options or {}).items()})
    return opts


@dataclass
class KafkaSinkCommit(WriterCommitMessage):
    """One task's records delivered."""

    delivered: int


class KafkaSinkWriter(DataSourceArrowWriter):
    """Pickled to the executors; everything it holds is plain data (no secrets resolved)."""

    def __init__(self, options: dict[str, str], schema: "pa.Schema"):
        self.bootstrap = options.get("bootstrap.servers") or ""
        self.topic = options.get("topic") or ""
        self.key_column = options.get("keycolumn") or None
        self.value_column = options.get("valuecolumn") or None
        self.producer_options = {k[len(OPTION_PREFIX) :]: v for k, v in options.items() if k.startswith(OPTION_PREFIX)}
        self.schema = schema

    def write(self, iterator: Iterator["pa.RecordBatch"]) -> KafkaSinkCommit:
        """Runs in an executor: produce every row of the task's batches, flush, raise on errors."""
        from kappa.substitution import resolve_secret_refs
        from kappa.kafka.client import client_config
        from kappa.kafka.writer import produce_batches

        tables = cast_batches(iterator, self.schema)
        first = next(tables, None)
        if first is None:  # an empty task opens no producer
            return KafkaSinkCommit(0)

        def batches() -> Iterator["pa.Table"]:
            yield first
            yield from tables

        conf = client_config(self.bootstrap, resolve_secret_refs(self.producer_options))
        delivered = produce_batches(conf, self.topic, batches(), self.key_column, self.value_column)
        return KafkaSinkCommit(delivered)


class KafkaSinkDataSource(DataSource):
    """``df.write.format("kappa_kafka_sink").options(**sink_options(spec)).mode("append").save()``."""

    @classmethod
    def name(cls) -> str:
        return NAME

    def writer(self, schema, overwrite: bool) -> KafkaSinkWriter:
        from kappa.errors import ConfigError

        options = {str(k).lower(): str(v) for k, v in self.options.items()}
        for required in ("bootstrap.servers", "topic"):
            if not options.get(required):
                raise ConfigError(f"{NAME}: option {required!r} is required")
        return KafkaSinkWriter(options, arrow_schema(schema))


def write_kafka_frame(df: "DataFrame", spec: Any) -> int:
    """Produce every row of ``df`` to the Kafka sink ``spec`` from the executors; returns the
    rows produced (observed while writing). Raises KafkaWriteError naming the topic."""
    from kappa.config.variables import MissingVariable
    from kappa.kafka.writer import KafkaWriteError

    if spec.value is None and not df.columns:
        return 0  # produce_rows: no columns, no records
    frame, obs = observed(df)
    save(frame, NAME, sink_options(spec), "append", (KafkaWriteError, MissingVariable))
    return observed_rows(obs)
