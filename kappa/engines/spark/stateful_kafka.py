"""A stateful node reading Kafka: decode in the streaming plan, dead letters per micro-batch.

Design (issue 11). A stateful node's steps run in Spark's streaming plan
(:mod:`kappa.engines.spark.stateful`), so its Kafka values must be decoded there too, before the
first step, with a schema fixed when the query starts: the source declares ``schema`` (JSON) or
takes the raw values (``kappa validate`` refuses an inferred schema and Debezium:
:func:`kappa.stateful.analyze.stateful_source_kind`).

- :func:`good_rows` is the stream the steps read: the python profile's ``kappa_kafka`` reader
  already decodes each Arrow batch it fetches (:func:`kappa.engines.spark.decode.decode_option`);
  the jvm profile's Kafka stream is decoded by the same function through ``mapInArrow``. Either
  way the records that cannot become rows are flagged and filtered out before the steps.
- :func:`dead_letters` gives ``foreachBatch`` the batch's dead letters. The rows reaching
  ``foreachBatch`` are the stateful operators' output, not the records, so the batch's offset
  range is read again: Spark wrote it to ``offsets/<batch id>`` before the batch ran (the
  start is the previous entry, or for batch 0 the initial offset the query kept:
  ``kappa/initial_offset_kappa_kafka.json`` on python, ``sources/0/0`` on jvm). The records of
  a planned range do not change, so the second read finds exactly the batch's dead letters;
  they are written with the batch's app transaction before Spark commits the batch, as for a
  stateless node. A no-data batch (an empty range) reads nothing. Cost: each batch's records
  are fetched and decoded twice (the second read only keeps the flagged records).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from kappa.plan import NodePlan
    from kappa.plan_kinds import KafkaSourcePlan


def applies(node: "NodePlan") -> bool:
    """True for a stateful streaming node whose source is a decoded Kafka topic."""
    src = node.source
    return getattr(src, "kind", None) == "kafka" and src.value_format != "raw"


def _combined(stream: "DataFrame", source: "KafkaSourcePlan") -> "DataFrame":
    """Rows and dead letters of Kafka records in one frame (the decode flag tells them apart):
    decoded by the reader already (python), else decoded here with the declared schema."""
    import pyarrow as pa

    from kappa.engines.spark.decode_tasks import FLAG, _JsonDecode, _out_schemas, _spark_type
    from kappa.kafka.json_checks import DEFAULT_MAX_RECORD_BYTES
    from kappa.types import parse_schema

    if FLAG in stream.columns:
        return stream
    schema = parse_schema(source.schema)
    if not isinstance(schema, pa.Schema):
        schema = pa.schema(list(schema))
    value_type = pa.struct(list(schema))
    limit = getattr(source, "max_record_bytes", None) or DEFAULT_MAX_RECORD_BYTES
    data = [(f.name, _spark_type(value_type) if f.name == "value" else f.dataType) for f in stream.schema]
    spark_schema, arrow_schema = _out_schemas(data)
    return stream.mapInArrow(_JsonDecode(schema, None, None, value_type, limit, arrow_schema), spark_schema)


def good_rows(stream: "DataFrame", source: "KafkaSourcePlan") -> "DataFrame":
    """The decoded records of a Kafka stream, the undecodable ones filtered out (module doc)."""
    from kappa.engines.spark.decode import _good_rows
    from kappa.engines.spark.decode_tasks import DL, FLAG

    combined = _combined(stream, source)
    return _good_rows(combined, [c for c in combined.columns if c != FLAG and not c.startswith(DL)])


# ---------------------------------------------------------------- dead letters of one batch
def _offsets_at(checkpoint: str, batch_id: int) -> dict | None:
    from kappa.engines.spark.status import parse_offset_file

    path = Path(checkpoint.removeprefix("file://")) / "offsets" / str(batch_id)
    if not path.is_file():
        return None
    sources = parse_offset_file(path.read_text(), batch_id).sources
    return sources[0] if sources else None


def _initial(checkpoint: str, profile: str) -> dict | None:
    """Batch 0's start: the initial offset the query kept (module doc)."""
    if profile == "python":
        from kappa.engines.spark.datasources.initial import initial_offset_path

        path = initial_offset_path(checkpoint, "kappa_kafka")
        return json.loads(path.read_text()) if path.is_file() else None
    path = Path(checkpoint.removeprefix("file://")) / "sources" / "0" / "0"
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip().startswith("{")]
    return json.loads(lines[-1]) if lines else None


def _range(checkpoint: str, batch_id: int, profile: str) -> tuple[dict, dict]:
    """``(starts, ends)`` of batch ``batch_id`` as ``{(topic, partition): offset}``; a partition
    new in this batch starts at -2 (earliest). A missing log entry stops the node: reading from
    a guessed start could write dead letters of records the batch never read."""
    from kappa.engines.spark.lag import kafka_offsets
    from kappa.errors import KappaError

    end = _offsets_at(checkpoint, batch_id)
    start = _offsets_at(checkpoint, batch_id - 1) if batch_id > 0 else _initial(checkpoint, profile)
    if end is None or start is None:
        where = f"batch {batch_id} or {batch_id - 1}" if batch_id > 0 else "batch 0 or the query's initial offset"
        raise KappaError(f"the offset log of {checkpoint} has no entry for {where}: cannot read the batch's dead letters")
    ends, starts = kafka_offsets(end), kafka_offsets(start)
    return {tp: starts.get(tp, -2) for tp in ends}, ends


def batch_range(checkpoint: str, batch_id: int, profile: str) -> tuple[dict, dict]:
    """``(start, end)`` offsets of batch ``batch_id`` in Spark's JSON form (:func:`_range`)."""
    from kappa.engines.spark.datasources.kafka_options import to_json_offsets

    starts, ends = _range(checkpoint, batch_id, profile)
    return to_json_offsets(starts), to_json_offsets(ends)


def dead_letters(spark: "SparkSession", node: "NodePlan", profile: str, checkpoint: str, batch_id: int) -> "DataFrame | None":
    """The dead letters of micro-batch ``batch_id`` of a stateful Kafka node (None: an empty range)."""
    from kappa.engines.spark.connectors.kafka import kafka_options
    from kappa.engines.spark.datasources.kafka_options import to_json_offsets
    from kappa.engines.spark.datasources.readers import FORMATS
    from kappa.engines.spark.decode import _dead_letters, decode_option

    source = node.source
    starts, ends = _range(checkpoint, batch_id, profile)
    if all(0 <= ends[tp] <= starts[tp] for tp in ends):  # a no-data batch: nothing was read
        return None
    options = kafka_options(source, batch=True)
    options.pop("subscribe", None)
    assign: dict[str, list[int]] = {}
    for topic, part in sorted(ends):
        assign.setdefault(topic, []).append(part)
    options.update({"assign": json.dumps(assign), "startingOffsets": json.dumps(to_json_offsets(starts)),
                    "endingOffsets": json.dumps(to_json_offsets(ends))})
    if profile == "python":
        options.update(decode_option(source))
    frame = spark.read.format(FORMATS[("kafka", profile)]).options(**options).load()
    return _dead_letters(_combined(frame, source))
