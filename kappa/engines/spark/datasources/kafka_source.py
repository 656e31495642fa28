"""``kappa_kafka``: Spark's Kafka source as a PySpark Python data source (confluent-kafka).

Same options and same schema as ``format("kafka")`` (see :mod:`.kafka_options`), so a query
moves between the ``jvm`` and ``python`` connector profiles by changing the format name only::

    spark.readStream.format("kappa_kafka")
        .option("kafka.bootstrap.servers", "127.0.0.1:9092")
        .option("subscribe", "orders")
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", 10000)
        .load()

Each Spark task reads one offset range of one Kafka partition with ``assign()`` (no consumer
group, no commits; progress lives in the query's checkpoint, as with Spark's source) and
yields Arrow record batches. Driver-side methods run in a Python process the JVM spawns, so
everything they need is in the options.
"""

from __future__ import annotations

from collections.abc import Iterator

from pyspark.sql.datasource import (
    DataSource,
    DataSourceReader,
    DataSourceStreamReader,
    InputPartition,
)
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

from kappa.engines.spark.datasources.kafka_options import (
    KafkaOptions,
    TopicPartition,
    from_json_offsets,
    rate_limit,
    split_ranges,
    to_json_offsets,
)
from kappa.errors import ConfigError, KappaError

KAFKA_DDL = (
    "key binary, value binary, topic string, partition int, offset bigint, "
    "timestamp timestamp, timestampType int"
)
HEADERS_DDL = "headers array<struct<key: string, value: binary>>"


class KafkaSourceError(KappaError):
    """Offsets went missing or backwards and ``failOnDataLoss`` is true."""


def kafka_ddl(include_headers: bool = False) -> str:
    """Spark's Kafka source schema as DDL."""
    return f"{KAFKA_DDL}, {HEADERS_DDL}" if include_headers else KAFKA_DDL


class KafkaRangePartition(InputPartition):
    """One Spark task: offsets ``[start, end)`` of one Kafka partition."""

    def __init__(self, topic: str, partition: int, start: int, end: int):
        self.topic, self.partition, self.start, self.end = topic, int(partition), start, end
        super().__init__((topic, partition, start, end))


def _partitions(ranges: dict[TopicPartition, tuple[int, int]], min_partitions) -> list:
    return [KafkaRangePartition(*piece) for piece in split_ranges(ranges, min_partitions)]


class _KafkaReaderBase:
    def __init__(self, options: KafkaOptions):
        self.options = options

    def read(self, partition: KafkaRangePartition) -> Iterator:
        """Runs in an executor: read the range with confluent-kafka, yield Arrow batches
        (decoded into rows and dead letters with the ``kappa.decode`` option)."""
        if not isinstance(partition, KafkaRangePartition):
            return  # Spark plans one placeholder partition when partitions() is empty
        batches = self._read(partition)
        if self.options.decode:
            from kappa.engines.spark.decode_tasks import ReaderDecode

            batches = ReaderDecode(self.options.decode, self.options.include_headers)(batches)
        # The task's worker process runs nothing else meanwhile: with the cyclic collector off,
        # the ~10k tracked Message objects of every fetch do not trigger full collections over
        # everything pyspark and pyarrow hold (measured: a quarter of the reader's CPU). Cyclic
        # garbage of the task is collected when it ends.
        import gc

        enabled = gc.isenabled()
        gc.disable()
        try:
            yield from batches
        finally:
            if enabled:
                gc.enable()

    def _read(self, partition: KafkaRangePartition) -> Iterator:
        from kappa.kafka.reader import iter_range_batches

        conf = self.options.client_conf()
        start = partition.start
        if not self.options.fail_on_data_loss:
            from kappa.kafka.offsets import earliest_offsets

            tp = (partition.topic, partition.partition)
            start = max(start, earliest_offsets(conf, [tp])[tp])
            if start >= partition.end:
                return
        yield from iter_range_batches(
            conf,
            {(partition.topic, partition.partition): (start, partition.end)},
            include_headers=self.options.include_headers,
        )

    def _check_progress(self, start: dict, end: dict) -> dict:
        """Ranges ``start -> end``; offsets moving backwards are data loss."""
        ranges = {}
        for tp, stop in end.items():
            begin = start.get(tp, stop)
            if stop < begin:
                message = (
                    f"{tp[0]}[{tp[1]}]: offset went backwards from {begin} to {stop} (topic "
                    "deleted and recreated?). Some data may have been lost; set "
                    "failOnDataLoss=false to continue from the new offsets"
                )
                if self.options.fail_on_data_loss:
                    raise KafkaSourceError(message)
                continue
            ranges[tp] = (begin, stop)
        return ranges


class KafkaBatchReader(_KafkaReaderBase, DataSourceReader):
    """``spark.read``: offsets ``startingOffsets`` (default earliest) to ``endingOffsets``
    (default latest) of every subscribed partition."""

    def partitions(self):
        from kappa.kafka.offsets import end_offsets, resolve_starting_offsets

        opts = self.options
        conf = opts.client_conf()
        tps = opts.topic_partitions(conf)
        starting = opts.starting_offsets or "earliest"
        if starting.strip().lower() == "latest":
            raise ConfigError("kappa_kafka: startingOffsets='latest' is not valid for batch reads")
        start = resolve_starting_offsets(conf, tps, starting)
        ending = (opts.ending_offsets or "latest").strip()
        if ending.lower() == "earliest":
            raise ConfigError("kappa_kafka: endingOffsets='earliest' is not valid for batch reads")
        latest = end_offsets(conf, tps)
        if ending.lower() == "latest":
            end = latest
        else:
            explicit = from_json_offsets(ending)
            for tp in explicit:
                if tp not in latest:
                    raise ConfigError(
                        f"kappa_kafka: endingOffsets names {tp[0]}[{tp[1]}], which is not read"
                    )
            end = {tp: explicit.get(tp, -1) for tp in tps}
            end = {tp: latest[tp] if o == -1 else o for tp, o in end.items()}
            if any(o < -1 for o in end.values()):
                raise ConfigError("kappa_kafka: endingOffsets allows offsets >= 0 or -1 (latest)")
        return _partitions(self._check_progress(start, end), opts.min_partitions)


class KafkaStreamReader(_KafkaReaderBase, DataSourceStreamReader, SupportsTriggerAvailableNow):
    """``spark.readStream``: micro-batches over new offsets, ``maxOffsetsPerTrigger`` honoured,
    ``Trigger.AvailableNow`` stops at the offsets current when the query started.

    The initial offset is resolved once per query checkpoint and kept there (see
    :mod:`.initial`): PySpark calls ``initialOffset()`` again when it runs batch 0. Offsets out
    of the partition's log (topic re-created, broker lost its log, retention) stop the query
    with :class:`~kappa.kafka.data_loss.DataLossError` unless ``failOnDataLoss`` is false; then
    such partitions continue from their earliest offset."""

    def __init__(self, options: KafkaOptions):
        super().__init__(options)
        self._target: dict[TopicPartition, tuple[int, int]] | None = None
        self._conf: dict | None = None

    def _client_conf(self) -> dict:
        if self._conf is None:
            self._conf = self.options.client_conf()
        return self._conf

    def _resolve_initial(self) -> dict:
        from kappa.kafka.offsets import resolve_starting_offsets

        conf = self._client_conf()
        tps = self.options.topic_partitions(conf)
        spec = self.options.starting_offsets or "latest"
        return to_json_offsets(resolve_starting_offsets(conf, tps, spec))

    def initialOffset(self) -> dict:
        from kappa.engines.spark.datasources.initial import initial_offset

        return initial_offset(self.options.checkpoint_location, "kappa_kafka", self._resolve_initial)

    def _bounds_now(self) -> dict[TopicPartition, tuple[int, int]]:
        from kappa.kafka.offsets import log_bounds

        conf = self._client_conf()
        return log_bounds(conf, self.options.topic_partitions(conf))

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self._bounds_now()

    def getDefaultReadLimit(self):
        limit = self.options.max_offsets_per_trigger
        return ReadMaxRows(limit) if limit else ReadAllAvailable()

    def _resume(self, begin: dict, bounds: dict) -> dict[TopicPartition, int]:
        """Where each partition continues: ``begin`` checked against the log (data loss raises
        or, with failOnDataLoss false, moves to the earliest offset); new partitions start at
        their earliest offset, as in Spark's source."""
        from kappa.kafka.data_loss import resume_offsets

        out = resume_offsets(begin, bounds, fail_on_data_loss=self.options.fail_on_data_loss).offsets
        for tp, (low, _end) in bounds.items():
            out.setdefault(tp, low)
        return out

    def latestOffset(self, start: dict, limit=None) -> dict:
        given = from_json_offsets(start)
        # Checked against the log as it is now: an AvailableNow target may predate the start
        # (resolved "latest" under a live producer), which is no data loss.
        now = self._bounds_now()
        begin = self._resume(given, now)
        end = {tp: stop for tp, (_low, stop) in now.items()}
        if self._target is not None:
            cap = {tp: stop for tp, (_low, stop) in self._target.items()}
            end = {tp: max(begin[tp], min(stop, cap.get(tp, begin[tp]))) for tp, stop in end.items()}
        if isinstance(limit, ReadMaxRows):
            end = rate_limit(begin, end, limit.max_rows)
        if end == given:
            return start
        return to_json_offsets(end)

    def partitions(self, start: dict, end: dict):
        begin = from_json_offsets(start)
        stop = from_json_offsets(end)
        unusual = [tp for tp, o in stop.items() if tp not in begin or begin[tp] > o]
        if unusual or not self.options.fail_on_data_loss:
            from kappa.kafka.offsets import earliest_offsets

            lows = earliest_offsets(self._client_conf(), sorted(stop))
            begin = self._resume(begin, {tp: (lows[tp], o) for tp, o in stop.items()})
        ranges = {tp: (begin[tp], o) for tp, o in stop.items() if tp in begin}
        return _partitions(ranges, self.options.min_partitions)

    def commit(self, end: dict) -> None:
        """Progress lives in Spark's checkpoint; nothing is committed to Kafka."""


class KafkaDataSource(DataSource):
    """The ``kappa_kafka`` data source: Spark's Kafka source over confluent-kafka."""

    @classmethod
    def name(cls) -> str:
        return "kappa_kafka"

    def __init__(self, options):
        super().__init__(options)
        self.kafka_options = KafkaOptions.parse(options)

    def schema(self):
        if self.kafka_options.decode:  # decoded in the reader: rows and dead letters
            from kappa.engines.spark.decode_tasks import ReaderDecode

            return ReaderDecode(self.kafka_options.decode, self.kafka_options.include_headers).spark_schema
        return kafka_ddl(self.kafka_options.include_headers)

    def reader(self, schema):
        return KafkaBatchReader(self.kafka_options)

    def streamReader(self, schema):
        return KafkaStreamReader(self.kafka_options)
