"""The Debezium defaults of a CDC MERGE: what to merge on when the config does not say.

- keys: the fields of the Kafka message key (Debezium puts the table's primary key there);
- sequence: the source position -- Postgres ``source.lsn`` (``_seq_lsn``), MySQL binlog file
  and position (``_seq_file``, ``_seq_pos``) -- then the envelope's ``ts_ms`` (``_seq_ts_ms``)
  and the Kafka offset (``_seq_offset``) as tie-breakers (see :mod:`kappa.kafka.debezium`);
- deletes: ``_op = 'delete'``; truncates (SCD type 1 only): ``_op = 'truncate'``;
- the bookkeeping columns ``_op`` and ``_seq_*`` are left out of the target (the sequence is
  still used for ordering, and SCD type 2 history columns are built from it).

Any of that can be overridden: the overrides are :class:`~kappa.models.CdcMerge` fields, with
``scd_type`` accepted for ``stored_as_scd_type`` and ``keep_cdc_columns: true`` keeping
``_op`` / ``_seq_*`` in the target.

:func:`debezium_merge` is the one decision both users of these defaults make -- replication
configs (:mod:`kappa.replication`) and merge sinks of pipeline nodes reading
``value_format: debezium`` (:mod:`kappa.cdc.sink_defaults`): the defaults learnt from the
topic's first decodable records; without such records, the configured ``keys`` and
``sequence_by`` when both are given; else nothing yet (:data:`NO_RECORD_YET`).

>>> from kappa.kafka.debezium import DebeziumBatch
>>> import pyarrow as pa
>>> cols = {"id": [1], "name": ["a"], "_op": ["upsert"], "_seq_lsn": [7], "_seq_ts_ms": [1], "_seq_offset": [0]}
>>> batch = DebeziumBatch(changes=pa.table(cols), dead_letters=pa.table({}), decoded=1, tombstones=0,
...                       dead=0, key_columns=["id"], sequence_columns=["_seq_lsn", "_seq_ts_ms", "_seq_offset"])
>>> spec = merge_options_for(batch, {})
>>> spec.keys, spec.sequence_by, spec.except_column_list, spec.apply_as_truncates
(['id'], ['_seq_lsn', '_seq_ts_ms', '_seq_offset'], ['_op', '_seq_lsn', '_seq_ts_ms', '_seq_offset'], "_op = 'truncate'")
>>> spec = merge_options_for(batch, {"scd_type": 2, "sequence_by": "_seq_lsn", "except_column_list": ["name"]})
>>> spec.stored_as_scd_type, spec.sequence_by, spec.except_column_list, spec.apply_as_truncates
(2, '_seq_lsn', ['name', '_op', '_seq_lsn', '_seq_ts_ms', '_seq_offset'], None)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from kappa.kafka.debezium import DebeziumBatch
    from kappa.models.cdc import CdcMerge

OP_COLUMN = "_op"
SEQ_PREFIX = "_seq_"
DELETE_PREDICATE = "_op = 'delete'"
TRUNCATE_PREDICATE = "_op = 'truncate'"

#: Override keys that are not CdcMerge fields.
_ALIASES = {"scd_type": "stored_as_scd_type"}
_EXTRA = ("keep_cdc_columns",)
#: Every bookkeeping column the decoder may add (what is hidden when no record tells which).
KNOWN_CDC_COLUMNS = ("_op", "_seq_lsn", "_seq_file", "_seq_pos", "_seq_ts_ms", "_seq_offset")
#: Why a Debezium merge cannot be resolved yet (completed by the caller with what to set).
NO_RECORD_YET = "no decodable Debezium record yet to learn keys and sequence from"


def cdc_columns(columns: Sequence[str]) -> list[str]:
    """The bookkeeping columns among ``columns``: ``_op`` and every ``_seq_*``."""
    return [c for c in columns if c == OP_COLUMN or c.startswith(SEQ_PREFIX)]


def merge_options_for(batch: "DebeziumBatch", overrides: Mapping[str, Any] | None = None) -> "CdcMerge":
    """The :class:`~kappa.models.CdcMerge` for a decoded Debezium batch (see the module doc).

    ``batch`` supplies ``key_columns``, ``sequence_columns`` and the column names of
    ``changes``; ``overrides`` (CdcMerge fields, ``scd_type``, ``keep_cdc_columns``; ``None``
    values are ignored) win over the defaults. Raises :class:`KappaError` when no keys are known
    (a batch without a message key and no ``keys`` override) and pydantic's ``ValidationError``
    when the combination is not a valid CdcMerge.
    """
    return merge_options(batch.key_columns, batch.sequence_columns,
                         list(batch.changes.column_names), overrides)


def merge_options(key_columns: Sequence[str], sequence_columns: Sequence[str],
                  columns: Sequence[str], overrides: Mapping[str, Any] | None = None) -> "CdcMerge":
    """:func:`merge_options_for` from the pieces of a batch (keys, sequence, column names)."""
    from kappa.models.cdc import CdcMerge

    opts = {_ALIASES.get(k, k): v for k, v in (overrides or {}).items() if v is not None}
    keep_cdc = bool(opts.pop("keep_cdc_columns", False))
    unknown = sorted(set(opts) - set(CdcMerge.model_fields))
    if unknown:
        raise KappaError(f"unknown CDC merge option(s) {unknown}")
    keys = opts.pop("keys", None) or list(key_columns)
    if not keys:
        raise KappaError("no key columns: the Debezium records have no message key fields; set `keys`")
    sequence = opts.pop("sequence_by", None) or list(sequence_columns)
    scd = opts.get("stored_as_scd_type", 1)
    opts.setdefault("apply_as_deletes", DELETE_PREDICATE)
    if scd == 1:
        opts.setdefault("apply_as_truncates", TRUNCATE_PREDICATE)
    if not keep_cdc and opts.get("column_list") is None:
        seq = [sequence] if isinstance(sequence, str) else list(sequence)
        hidden = cdc_columns(list(columns) + [c for c in seq if c not in columns])
        hidden = [c for c in hidden if c not in keys]
        user = list(opts.get("except_column_list") or [])
        opts["except_column_list"] = user + [c for c in hidden if c not in user]
    return CdcMerge(keys=keys, sequence_by=sequence, **opts)


def configured_merge(overrides: Mapping[str, Any]) -> "CdcMerge":
    """The merge of configured ``keys`` and ``sequence_by`` (both given) with the other
    defaults, for a topic none of whose records could be decoded yet."""
    seq = overrides["sequence_by"]
    seq_cols = [seq] if isinstance(seq, str) else list(seq)
    return merge_options(overrides["keys"], seq_cols, list(KNOWN_CDC_COLUMNS), overrides)


def debezium_merge(batch: "DebeziumBatch | None", overrides: Mapping[str, Any]) -> "CdcMerge | None":
    """The Debezium merge of a topic whose first records decoded to ``batch`` (see the module
    doc); None when nothing tells the keys and sequence yet."""
    if batch is not None and batch.decoded:
        return merge_options_for(batch, overrides)
    if overrides.get("keys") and overrides.get("sequence_by"):
        return configured_merge(overrides)
    return None
