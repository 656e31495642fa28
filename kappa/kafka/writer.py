"""Producing to Kafka (Arrow tables, JSON records) with an idempotent producer; topic creation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError

if TYPE_CHECKING:
    import pyarrow as pa

_FLUSH_TIMEOUT_S = 60.0


class KafkaWriteError(KappaError):
    """Records could not be delivered; the message names topic and partition."""


def producer_config(conf: Mapping[str, Any]) -> dict:
    """An idempotent, acks=all producer config on top of ``conf``."""
    out = dict(conf)
    out["enable.idempotence"] = True
    out["acks"] = "all"
    out.setdefault("linger.ms", 5)
    return out


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", errors="replace")
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable")


def to_json_bytes(record: Any) -> bytes:
    """Compact JSON encoding used for struct values and ``produce_json``."""
    return json.dumps(record, separators=(",", ":"), default=_json_default).encode("utf-8")


def _as_bytes_list(table: "pa.Table", column: str) -> list[bytes | None]:
    import pyarrow as pa
    import pyarrow.compute as pc

    col = table.column(column)
    typ = col.type
    if pa.types.is_binary(typ) or pa.types.is_large_binary(typ):
        return col.to_pylist()
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return pc.cast(col, pa.binary()).to_pylist()
    if pa.types.is_struct(typ) or pa.types.is_map(typ) or pa.types.is_list(typ):
        return [None if v is None else to_json_bytes(v) for v in col.to_pylist()]
    return [None if v is None else str(v).encode("utf-8") for v in col.to_pylist()]


def _headers_list(table: "pa.Table", column: str) -> list:
    out = []
    for row in table.column(column).to_pylist():
        if not row:
            out.append(None)
            continue
        if isinstance(row, Mapping):
            row = list(row.items())
        pairs = []
        for item in row:
            k, v = (item["key"], item["value"]) if isinstance(item, Mapping) else item
            pairs.append((str(k), v.encode("utf-8") if isinstance(v, str) else v))
        out.append(pairs)
    return out


class _Delivery:
    """Collects delivery reports; keeps the first error per (topic, partition)."""

    def __init__(self) -> None:
        self.delivered = 0
        self.errors: dict[tuple[str, int], str] = {}

    def __call__(self, err, msg) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.errors.setdefault((msg.topic(), msg.partition()), err.str())

    def raise_if_failed(self, topic: str) -> None:
        if self.errors:
            details = "; ".join(f"{t}[{p}]: {e}" for (t, p), e in sorted(self.errors.items()))
            raise KafkaWriteError(f"delivery to topic {topic!r} failed: {details}")


def _produce_rows(conf: Mapping[str, Any], topic: str, rows: Iterable[dict]) -> int:
    from confluent_kafka import KafkaException, Producer

    producer = Producer(producer_config(conf))
    report = _Delivery()
    attempted = 0
    for kwargs in rows:
        while True:
            try:
                producer.produce(topic, on_delivery=report, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
            except KafkaException as exc:
                where = f"{topic}[{kwargs['partition']}]" if "partition" in kwargs else topic
                err = exc.args[0] if exc.args else exc
                detail = err.str() if hasattr(err, "str") else str(err)
                raise KafkaWriteError(
                    f"produce to topic {topic!r} failed at {where}: {detail}"
                ) from exc
        attempted += 1
        if attempted % 10000 == 0:
            producer.poll(0)
    remaining = producer.flush(_FLUSH_TIMEOUT_S)
    report.raise_if_failed(topic)
    if remaining:
        raise KafkaWriteError(
            f"topic {topic!r}: {remaining} record(s) not delivered within {_FLUSH_TIMEOUT_S:.0f}s"
        )
    if report.delivered != attempted:  # pragma: no cover - flush returned 0 but reports missing
        raise KafkaWriteError(
            f"topic {topic!r}: {attempted - report.delivered} record(s) without a delivery report"
        )
    return report.delivered


def _table_records(
    topic: str,
    table: "pa.Table",
    key_column: str | None = "key",
    value_column: str = "value",
    headers_column: str | None = None,
    partition_column: str | None = None,
) -> Iterator[dict]:
    """``Producer.produce`` keyword arguments of every row of ``table`` (columns checked now)."""
    names = set(table.column_names)
    if value_column not in names:
        raise KafkaWriteError(f"topic {topic!r}: the table has no value column {value_column!r}")
    if key_column is not None and key_column not in names:
        if key_column != "key":
            raise KafkaWriteError(f"topic {topic!r}: the table has no key column {key_column!r}")
        key_column = None
    for label, col in (("headers", headers_column), ("partition", partition_column)):
        if col is not None and col not in names:
            raise KafkaWriteError(f"topic {topic!r}: the table has no {label} column {col!r}")
    n = table.num_rows
    values = _as_bytes_list(table, value_column)
    keys = _as_bytes_list(table, key_column) if key_column else [None] * n
    headers = _headers_list(table, headers_column) if headers_column else [None] * n
    parts = table.column(partition_column).to_pylist() if partition_column else [None] * n

    def rows() -> Iterator[dict]:
        for k, v, h, p in zip(keys, values, headers, parts):
            kwargs: dict[str, Any] = {"key": k, "value": v}
            if h:
                kwargs["headers"] = h
            if p is not None:
                kwargs["partition"] = int(p)
            yield kwargs

    return rows()


def produce_table(
    conf: dict,
    topic: str,
    table: "pa.Table",
    key_column: str | None = "key",
    value_column: str = "value",
    headers_column: str | None = None,
    partition_column: str | None = None,
) -> int:
    """Produce every row of ``table`` to ``topic``; returns the number of records delivered.

    Key and value columns may be string or binary; a struct/list/map value is JSON-encoded.
    ``key_column`` is ignored when the table has no such column and it is the default
    ``"key"``. Raises :class:`KafkaWriteError` naming topic and partition on any failure.
    """
    rows = _table_records(topic, table, key_column, value_column, headers_column, partition_column)
    return _produce_rows(conf, topic, rows)


def produce_json(
    conf: dict,
    topic: str,
    records: Iterable[Mapping],
    key: str | Callable | None = None,
) -> int:
    """Produce each mapping as a compact JSON value. ``key`` is a field name whose value becomes
    the record key (as UTF-8 text) or a callable ``record -> str | bytes | None``."""

    def key_of(rec: Mapping) -> bytes | None:
        if key is None:
            return None
        k = key(rec) if callable(key) else rec.get(key)
        if k is None or isinstance(k, bytes):
            return k
        return str(k).encode("utf-8")

    return _produce_rows(
        conf, topic, ({"key": key_of(r), "value": to_json_bytes(dict(r))} for r in records)
    )


def create_topic(conf: dict, topic: str, partitions: int = 1, timeout: float = 30.0) -> None:
    """Create ``topic`` with ``partitions`` partitions; a topic that already exists is fine."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(dict(conf))
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    try:
        futures[topic].result(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0] if exc.args else None
        if getattr(err, "code", lambda: None)() == KafkaError.TOPIC_ALREADY_EXISTS:
            return
        raise KafkaWriteError(f"cannot create topic {topic!r}: {exc}") from exc


def sink_records(topic: str, table: "pa.Table | pa.RecordBatch", key_column: str | None = None, value_column: str | None = None) -> Iterator[dict]:
    """The records of a Kafka sink's rows (``Producer.produce`` keyword arguments): the value
    is ``value_column`` or, when None, every column as one JSON object; the key is
    ``key_column`` (None: null keys). ``table`` may be one Arrow record batch."""
    import pyarrow as pa

    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if value_column is None:
        if table.num_columns == 0:
            return iter(())
        struct = pa.StructArray.from_arrays([c.combine_chunks() for c in table.columns], names=table.column_names)
        table = table.append_column("__kappa_value", struct)
        value_column = "__kappa_value"
    return _table_records(topic, table, key_column=key_column, value_column=value_column)


def produce_rows(conf: dict, topic: str, table: "pa.Table", key_column: str | None = None, value_column: str | None = None) -> int:
    """A Kafka sink's write: one record per row (see :func:`sink_records`)."""
    if value_column is None and table.num_columns == 0:
        return 0
    return _produce_rows(conf, topic, sink_records(topic, table, key_column, value_column))


def produce_batches(conf: dict, topic: str, batches: Iterable["pa.RecordBatch"], key_column: str | None = None, value_column: str | None = None) -> int:
    """:func:`produce_rows` over many Arrow record batches with one producer and one flush
    (a Spark task's write); returns the records delivered."""
    records = chain.from_iterable(sink_records(topic, b, key_column, value_column) for b in batches)
    return _produce_rows(conf, topic, records)
