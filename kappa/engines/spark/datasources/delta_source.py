"""``kappa_delta``: a PySpark Python data source reading Delta tables without delta-spark.

Batch: ``spark.read.format("kappa_delta").option("versionAsOf", 3).load(path)``.

Stream: ``spark.readStream.format("kappa_delta").load(path)`` follows the table's versions
like Spark's Delta source: without ``startingVersion`` the first micro-batch(es) read the
table's snapshot, then each commit's added files; ``startingVersion`` (a number or
``latest``) reads the changes from that commit on. A commit that removes or rewrites data
(DELETE, UPDATE, MERGE, overwrite) raises unless ``skipChangeCommits=true`` (skip such
commits whole) or, for commits that only delete, ``ignoreDeletes=true``. Rate limits:
``maxFilesPerTrigger`` (default 1000) and ``maxBytesPerTrigger`` (soft: at least one file).
``Trigger.AvailableNow`` is supported. Options prefixed ``storage.`` go to delta-rs as
storage options (``storage.AWS_REGION`` -> ``AWS_REGION``).

The initial offset (the snapshot version, or ``startingVersion``'s commit) is decided once per
query: with the ``kappaCheckpointLocation`` option (kappa passes the query's checkpoint) the
first answer is kept there and returned on every later call, as PySpark asks again when it
runs batch 0 and after a restart before batch 0 committed (see :mod:`.initial`).

Offsets are ``{"version": v, "index": i, "snapshot": bool}``: in snapshot mode, the first
``i`` files of the snapshot of version ``v`` are consumed; otherwise all commits before ``v``
and the first ``i`` added files of commit ``v`` are.
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
    ReadMaxBytes,
    ReadMaxFiles,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)

from kappa.engines.spark.datasources import delta_files as df
from kappa.engines.spark.datasources.initial import CHECKPOINT_OPTION, initial_offset
from kappa.engines.spark.datasources.options import SourceOptions
from kappa.errors import ConfigError

DEFAULT_MAX_FILES = 1000
_PARTITION_BYTES = 128 * 1024 * 1024


class DeltaFilesPartition(InputPartition):
    """One Spark task: a group of data files."""

    def __init__(self, files):
        self.files: tuple[df.DataFile, ...] = tuple(files)
        super().__init__(self.files)


def _group(files: list[df.DataFile], target_bytes: int = _PARTITION_BYTES) -> list:
    parts, current, size = [], [], 0
    for data_file in files:
        if current and size + data_file.size > target_bytes:
            parts.append(DeltaFilesPartition(current))
            current, size = [], 0
        current.append(data_file)
        size += data_file.size
    if current:
        parts.append(DeltaFilesPartition(current))
    return parts


class _DeltaReaderBase:
    def __init__(self, options: SourceOptions, schema_arrow):
        self.path = options.require("path")
        self.storage_options = options.prefixed("storage.")
        self.arrow_schema = schema_arrow

    def read(self, partition: DeltaFilesPartition) -> Iterator:
        if not isinstance(partition, DeltaFilesPartition):
            return  # Spark plans one placeholder partition when partitions() is empty
        fs = df.table_filesystem(self.path, self.storage_options)
        for data_file in partition.files:
            yield from df.read_file_batches(fs, data_file, self.arrow_schema)


class DeltaBatchReader(_DeltaReaderBase, DataSourceReader):
    """Batch read of one version (``versionAsOf``, default the latest)."""

    def __init__(self, options: SourceOptions, schema_arrow):
        super().__init__(options, schema_arrow)
        self.version = options.get_int("versionasof")

    def partitions(self):
        table = df.open_table(self.path, self.storage_options, self.version)
        return _group(df.snapshot_files(table))


class DeltaStreamReader(_DeltaReaderBase, DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Streaming read over a Delta table's versions (see the module docstring)."""

    def __init__(self, options: SourceOptions, schema_arrow):
        super().__init__(options, schema_arrow)
        self.starting_version = options.get("startingversion")
        self.skip_change_commits = options.get_bool("skipchangecommits", False)
        self.ignore_deletes = options.get_bool("ignoredeletes", False)
        self.max_files = options.get_int("maxfilespertrigger")
        self.max_bytes = options.get_bytes("maxbytespertrigger")
        self.checkpoint_location = options.get(CHECKPOINT_OPTION.lower())
        self.field_names = tuple(self.arrow_schema.names)
        self._target_version: int | None = None
        self._table = None
        self._fs = None
        self._commits: dict[int, df.Commit] = {}
        self._snapshots: dict[int, list[df.DataFile]] = {}

    # -- table access (driver side; cached for the life of the query) ------------------------
    def _latest_version(self) -> int:
        if self._table is None:
            self._table = df.open_table(self.path, self.storage_options)
        else:
            self._table.update_incremental()
        return int(self._table.version())

    def _filesystem(self):
        if self._fs is None:
            self._fs = df.table_filesystem(self.path, self.storage_options)
        return self._fs

    def _snapshot(self, version: int) -> list[df.DataFile]:
        if version not in self._snapshots:
            table = df.open_table(self.path, self.storage_options, version)
            self._snapshots[version] = df.snapshot_files(table)
        return self._snapshots[version]

    def _commit_files(self, version: int) -> list[df.DataFile]:
        """Files a stream reads from commit ``version`` (raises on unsupported changes)."""
        commit = self._commits.get(version)
        if commit is None:
            commit = df.read_commit(self._filesystem(), version, self.path)
            if len(self._commits) > 256:
                self._commits.clear()
            self._commits[version] = commit
        new_columns = set(commit.schema_fields or ()) - set(self.field_names)
        if new_columns:  # older, narrower schemas are fine: missing columns read as nulls
            raise df.DeltaSourceError(
                f"Delta table {self.path}: the schema changed at version {version} (new "
                f"columns {sorted(new_columns)}); restart the streaming query to pick up the "
                "new schema"
            )
        if commit.removes_data:
            if self.skip_change_commits:
                return []
            if self.ignore_deletes and not commit.added:
                return []
            raise df.DeltaSourceError(
                f"Delta table {self.path}: detected a data update (for example DELETE, UPDATE, "
                f"MERGE or overwrite) in the source table at version {version}. This is not "
                "supported by a streaming read. If this is going to happen regularly and you "
                "are okay to skip changes, set the option 'skipChangeCommits' to 'true'."
            )
        return list(commit.added)

    # -- offsets ----------------------------------------------------------------------------
    def initialOffset(self) -> dict:
        """Decided once per query: kept under the query's checkpoint (see :mod:`.initial`)."""
        return initial_offset(self.checkpoint_location, "kappa_delta", self._initial_offset)

    def _initial_offset(self) -> dict:
        latest = self._latest_version()
        start = self.starting_version
        if start is None:
            return {"version": latest, "index": 0, "snapshot": True}
        if str(start).strip().lower() == "latest":
            return {"version": latest + 1, "index": 0, "snapshot": False}
        try:
            version = int(start)
        except ValueError:
            raise df.DeltaSourceError(
                f"startingVersion must be a version number or 'latest', not {start!r}"
            ) from None
        if version < 0 or version > latest:
            raise df.DeltaSourceError(
                f"startingVersion {version} is outside the versions of {self.path} (0..{latest})"
            )
        return {"version": version, "index": 0, "snapshot": False}

    def prepareForTriggerAvailableNow(self) -> None:
        self._target_version = self._latest_version()

    def getDefaultReadLimit(self):
        if self.max_bytes is not None and self.max_files is None:
            return ReadMaxBytes(self.max_bytes)
        return ReadMaxFiles(self.max_files or DEFAULT_MAX_FILES)

    def _limits(self, limit) -> tuple[int | None, int | None]:
        if isinstance(limit, ReadAllAvailable) or limit is None:
            return None, None
        if isinstance(limit, ReadMaxFiles):
            return limit.max_files, self.max_bytes
        if isinstance(limit, ReadMaxBytes):
            return self.max_files, limit.max_bytes
        if isinstance(limit, ReadMaxRows):  # not a Delta limit; treat as files
            return limit.max_rows, self.max_bytes
        return self.max_files or DEFAULT_MAX_FILES, self.max_bytes

    def _files_of(self, position: dict) -> list[df.DataFile]:
        if position["snapshot"]:
            return self._snapshot(position["version"])
        return self._commit_files(position["version"])

    def latestOffset(self, start: dict, limit=None) -> dict:
        last = self._latest_version() if self._target_version is None else self._target_version
        max_files, max_bytes = self._limits(limit)
        pos = dict(start)
        taken, size = 0, 0
        while pos["snapshot"] or pos["version"] <= last:
            files = self._files_of(pos)
            while pos["index"] < len(files):
                if max_files is not None and taken >= max_files:
                    return pos
                nxt = files[pos["index"]].size
                if max_bytes is not None and taken > 0 and size + nxt > max_bytes:
                    return pos
                taken += 1
                size += nxt
                pos["index"] += 1
            pos = {"version": pos["version"] + 1, "index": 0, "snapshot": False}
        return pos

    def partitions(self, start: dict, end: dict):
        files: list[df.DataFile] = []
        pos = dict(start)
        while (pos["version"], not pos["snapshot"], pos["index"]) < (
            end["version"],
            not end["snapshot"],
            end["index"],
        ):
            available = self._files_of(pos)
            stop = len(available)
            if pos["version"] == end["version"] and pos["snapshot"] == end["snapshot"]:
                stop = min(stop, end["index"])
            files.extend(available[pos["index"] : stop])
            pos = {"version": pos["version"] + 1, "index": 0, "snapshot": False}
        return _group(files)

    def commit(self, end: dict) -> None:
        """Nothing to acknowledge: a Delta table keeps its history."""


class DeltaDataSource(DataSource):
    """The ``kappa_delta`` data source (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return "kappa_delta"

    def __init__(self, options):
        super().__init__(options)
        self.source_options = SourceOptions.of(options, "kappa_delta")
        for key in ("startingTimestamp", "timestampAsOf", "readChangeFeed"):
            if self.source_options.get(key):
                raise ConfigError(
                    f"kappa_delta: option '{key}' is not supported by the python connector "
                    "profile; use startingVersion/versionAsOf or the jvm profile"
                )
        self._arrow_schema = None

    def _schema_arrow(self):
        if self._arrow_schema is None:
            opts = self.source_options
            path = opts.require("path")
            table = df.open_table(path, opts.prefixed("storage."), opts.get_int("versionasof"))
            df.check_readable(table)
            self._arrow_schema = df.arrow_schema(table)
        return self._arrow_schema

    def schema(self):
        from pyspark.sql.pandas.types import from_arrow_schema

        return from_arrow_schema(self._schema_arrow())

    def reader(self, schema):
        return DeltaBatchReader(self.source_options, self._schema_arrow())

    def streamReader(self, schema):
        return DeltaStreamReader(self.source_options, self._schema_arrow())
