"""What kappa's executor-side sinks (``kappa_kafka_sink``, ``kappa_file_sink``) share.

Design note -- the same Arrow data as ``DataFrame.toArrow()``: a Python data source writer gets
Arrow batches whose timestamps carry the session time zone, while ``toArrow()`` (what the
sinks were fed before, and what the Polars engine's writers see) casts to Spark's Arrow schema
with ``UTC``. :func:`arrow_schema` builds that schema on the driver side and
:func:`to_driver_arrow` casts every batch to it on the executor, so JSON text, CSV cells and
Parquet types come out as before. Row counts come from a :class:`pyspark.sql.Observation`
attached to the written frame (:func:`observed`): no collect, no extra count job. A task's
failure reaches the driver wrapped in Spark's Java exception; :func:`raise_task_error` brings
back the line of kappa's own error (which names the topic or the path).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    from pyspark.sql import DataFrame, Observation
    from pyspark.sql.types import StructType

ROWS = "rows"


def arrow_schema(schema: "StructType") -> "pa.Schema":
    """The Arrow schema ``DataFrame.toArrow()`` gives a frame of ``schema`` (timestamps in UTC)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(schema, error_on_duplicated_field_names_in_struct=True, timezone="UTC")


def to_driver_arrow(batch: "pa.RecordBatch", schema: "pa.Schema") -> "pa.Table":
    """One batch as ``toArrow()`` would have given it (cast to :func:`arrow_schema`)."""
    import pyarrow as pa

    return pa.Table.from_batches([batch]).cast(schema)


def cast_batches(batches: Iterable["pa.RecordBatch"], schema: "pa.Schema") -> Iterator["pa.Table"]:
    """:func:`to_driver_arrow` of every non-empty batch."""
    for batch in batches:
        if batch.num_rows:
            yield to_driver_arrow(batch, schema)


def observed(df: "DataFrame") -> tuple["DataFrame", "Observation"]:
    """``df`` with a row count observed while it is written (read it with :func:`observed_rows`)."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    obs = Observation()
    return df.observe(obs, F.count(F.lit(1)).alias(ROWS)), obs


def observed_rows(obs: "Observation") -> int:
    """The rows an :func:`observed` frame's write went through."""
    return int(obs.get[ROWS])


def raise_task_error(exc: BaseException, error_types: tuple[type, ...]) -> None:
    """Re-raise the first of kappa's ``error_types`` named in a failed Spark job's message
    (``kappa.kafka.writer.KafkaWriteError: delivery to topic 'x' failed ...``) as that type,
    chained to Spark's exception; does nothing when none is named."""
    text = str(exc)
    for cls in error_types:
        match = re.search(rf"(?:^|[\s.]){re.escape(cls.__name__)}: (.+)", text)
        if match:
            raise cls(match.group(1).strip()) from exc


def save(frame: "DataFrame", name: str, options: dict[str, Any], mode: str, error_types: tuple[type, ...]) -> None:
    """``frame.write.format(name).options(...).mode(mode).save()``; a task's kappa error comes
    back as itself (see :func:`raise_task_error`)."""
    try:
        frame.write.format(name).options(**{k: str(v) for k, v in options.items()}).mode(mode).save()
    except Exception as exc:
        raise_task_error(exc, error_types)
        raise
