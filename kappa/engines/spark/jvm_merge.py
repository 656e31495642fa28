"""CDC merge on the jvm profile: the Spark SQL that applies one micro-batch with delta-spark.

NOT RUN AGAINST DELTA; WIRED ONLY BEHIND AN OPT-IN (``spark.kappa.cdc.jvmMerge=true``, see
:mod:`kappa.engines.spark.jvm_merge_sink`). delta-spark's jars cannot be had on the machines kappa is
built on (no Maven). What was run: the planning SQL (the events view, the SCD1 source, the SCD2
history) on a real local Spark with the state/log as temp views, against the AUTO CDC oracle
over many batches (tests/spark/test_jvm_merge_semantics.py), and every statement through
Spark's SQL parser. What never ran: everything Delta does -- ``CREATE TABLE ... USING DELTA``
on a path, ``MERGE [WITH SCHEMA EVOLUTION]`` (whether it adds a new column named only in
explicit ``UPDATE SET``/``INSERT`` lists is unverified), the ``txnAppId``/``txnVersion`` session
settings on a MERGE, ``VERSION AS OF``, the appends. Without the opt-in the engine keeps using
:func:`kappa.cdc.merge.apply_changes` (deltalake) for merge sinks on both profiles until this
plan has run against delta-spark and matched it.

Design. :func:`merge_plan` turns a :class:`~kappa.plan_kinds.MergeOptions` and the facts the
driver reads from the Delta logs (does the target/state exist, has this batch been committed
there: app transactions) into an ordered list of :class:`Step`: SQL statements and DataFrame
appends that run on the executors (the driver only issues them). It mirrors
:mod:`kappa.cdc.merge` step for step:

- the batch (a temp view, e.g. ``batch_df.createOrReplaceTempView(...)`` in ``foreachBatch``)
  is normalised once into a cached view ``<prefix>_events``: data columns, ``__kappa_seq_<i>``,
  ``__kappa_op`` (0 upsert, 1 delete), ``__kappa_batch``, ``__kappa_row`` (arrival order:
  ``monotonically_increasing_id()``, the batch's partition order, as the python profile's
  ``toArrow()`` gives it; the cache pins it for every later step);
- SCD1: per key, the event with the greatest ``(sequence..., is_delete, arrival)`` wins; it is
  applied when its ``(sequence..., is_delete)`` is >= the key's state row's and >= the last
  truncate watermark (this equals :mod:`kappa.cdc.scd1`'s one-at-a-time rule when the batch has
  no truncate and ``ignore_null_updates`` is off); MERGE deletes/updates/inserts the target,
  then the applied keys' state rows are appended to ``<table>__kappa_cdc_state``;
- SCD2: the touched keys' logged events plus the batch's are replayed with window functions
  into versions exactly as :func:`kappa.cdc.scd2.history` does (deletes win ties, the last
  arrival of one sequence stands, a tracked change opens a version, a delete closes it); one
  MERGE deletes the touched keys' rows and inserts their history, then the batch's events are
  appended to the log.

Exactly once per (sink, batch): every write carries the Delta app transaction
``(app_id, version)`` (``txnAppId``/``txnVersion`` options for appends; the
``spark.databricks.delta.write.txnAppId``/``txnVersion`` session settings for MERGE), and the
steps of an already committed table are left out (``target_done``/``state_done``, read by the
driver from the Delta log); a state committed before its target is repaired by reading the
state ``VERSION AS OF`` the commit before (``state_version``), as in :mod:`kappa.cdc.merge`.

Not built (:class:`JvmMergeUnsupported`): truncates (``apply_as_truncates``) and
``ignore_null_updates`` (SCD1 and SCD2), state compaction (the state is read by latest batch, so
uncompacted state is correct, only bigger), merge statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kappa.errors import KappaError

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from kappa.plan_kinds import MergeOptions

TXN_APP_CONF = "spark.databricks.delta.write.txnAppId"
TXN_VERSION_CONF = "spark.databricks.delta.write.txnVersion"


class JvmMergeUnsupported(KappaError):
    """The merge spec uses something the jvm MERGE builder does not build."""


@dataclass(frozen=True)
class Step:
    """One action of a batch: ``sql`` run with ``spark.sql`` (with the txn session settings
    when ``txn``), or an ``append`` of ``view`` to the Delta table at ``path``."""

    kind: str  # "sql" | "check" (a SELECT whose one row must be all zeros) | "append"
    sql: str = ""
    view: str = ""
    path: str = ""
    txn: tuple[str, int] | None = None
    options: dict[str, str] = field(default_factory=dict)


def q(name: str) -> str:
    """A Spark SQL identifier in backquotes."""
    return "`" + name.replace("`", "``") + "`"


def table(path: str, version: int | None = None) -> str:
    """A path-based Delta table reference (``VERSION AS OF`` when ``version`` is given)."""
    ref = f"delta.{q(path)}"
    return ref if version is None else f"{ref} VERSION AS OF {int(version)}"


def _eq(keys: Sequence[str], a: str, b: str) -> str:
    return " AND ".join(f"{a}.{q(k)} = {b}.{q(k)}" for k in keys)


def _lex_ge(left: list[str], right: list[str]) -> str:
    """``left >= right`` compared lexicographically (column expressions, non-null)."""
    left, right = [f"({x})" if " " in x else x for x in left], [f"({x})" if " " in x else x for x in right]
    out = f"{left[-1]} >= {right[-1]}"
    for lv, rv in zip(reversed(left[:-1]), reversed(right[:-1])):
        out = f"({lv} > {rv} OR ({lv} = {rv} AND {out}))"
    return out


def _check(spec: MergeOptions) -> None:
    if not spec.resolved:
        raise KappaError("CDC merge: keys and sequence_by are not resolved")
    if spec.apply_as_truncates:
        raise JvmMergeUnsupported("jvm CDC MERGE: apply_as_truncates is not built; use the deltalake merge")
    if spec.ignore_null_updates:
        raise JvmMergeUnsupported("jvm CDC MERGE: ignore_null_updates is not built; use the deltalake merge")


def events_sql(spec: MergeOptions, changes_view: str, columns: list[str], version: int) -> tuple[str, list[str]]:
    """SELECT normalising the batch view, and the data columns it keeps (as :func:`prepare`)."""
    from kappa.cdc.prepare import BATCH, OP, ROW, _data_columns, seq_names

    data = _data_columns(list(columns), spec)
    seq = seq_names(len(spec.sequence_columns))
    op = f"CASE WHEN ({spec.apply_as_deletes}) THEN 1 ELSE 0 END" if spec.apply_as_deletes else "0"
    row = "monotonically_increasing_id()"  # the batch's partition order: what toArrow() gives
    parts = [q(c) for c in data]
    parts += [f"{q(c)} AS {q(s)}" for c, s in zip(spec.sequence_columns, seq)]
    parts += [f"CAST({op} AS TINYINT) AS {q(OP)}", f"CAST({int(version)} AS BIGINT) AS {q(BATCH)}",
              f"CAST({row} AS BIGINT) AS {q(ROW)}"]
    return f"SELECT {', '.join(parts)} FROM {q(changes_view)}", data


def checks_sql(spec: MergeOptions, events_view: str) -> str:
    """One row: events with a null sequence, events with a null key (both must be 0)."""
    from kappa.cdc.prepare import seq_names

    seq = " OR ".join(f"{q(s)} IS NULL" for s in seq_names(len(spec.sequence_columns)))
    key = " OR ".join(f"{q(k)} IS NULL" for k in spec.keys or [])
    return (f"SELECT count_if({seq}) AS null_sequence, count_if({key}) AS null_key "
            f"FROM {q(events_view)}")


def scd1_source_sql(spec: MergeOptions, events_view: str, data: list[str], state: str | None) -> str:
    """The SCD1 MERGE source: each key's applied winner, with ``__kappa_action``.

    ``state`` is the state table reference (:func:`table`) or None when there is none."""
    from kappa.cdc.prepare import BATCH, DELETED, KIND, OP, ROW, seq_names

    keys, seq = list(spec.keys or []), seq_names(len(spec.sequence_columns))
    ks = ", ".join(q(k) for k in keys)
    order = ", ".join([*(f"{q(s)} DESC" for s in seq), f"{q(OP)} DESC", f"{q(ROW)} DESC"])
    win = (f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {ks} ORDER BY {order}) AS __kappa_rn "
           f"FROM {q(events_view)}) WHERE __kappa_rn = 1")
    w = [f"w.{q(s)}" for s in seq] + [f"w.{q(OP)} = 1"]
    select = ", ".join([*(f"w.{q(c)}" for c in data), *(f"w.{q(s)}" for s in seq),
                        f"w.{q(OP)} = 1 AS {q(DELETED)}",
                        f"CASE WHEN w.{q(OP)} = 1 THEN 'delete' ELSE 'upsert' END AS __kappa_action"])
    if state is None:
        return f"WITH w AS ({win}) SELECT {select} FROM w"
    st = (f"SELECT * FROM (SELECT {ks}, {', '.join(q(s) for s in seq)}, {q(DELETED)}, "
          f"row_number() OVER (PARTITION BY {ks} ORDER BY {q(BATCH)} DESC) AS __kappa_rn "
          f"FROM {state} WHERE {q(KIND)} = 'key') WHERE __kappa_rn = 1")
    wm = (f"SELECT {', '.join(q(s) for s in seq)} FROM {state} WHERE {q(KIND)} = 'truncate' "
          f"ORDER BY {q(BATCH)} DESC LIMIT 1")
    s_ge = _lex_ge(w, [f"s.{q(s)}" for s in seq] + [f"s.{q(DELETED)}"])
    wm_ge = _lex_ge(w, [f"m.{q(s)}" for s in seq] + ["true"])
    first = q(keys[0])
    return (f"WITH w AS ({win}), s AS ({st}), m AS ({wm}) SELECT {select} FROM w "
            f"LEFT JOIN s ON {_eq(keys, 'w', 's')} LEFT JOIN m ON true "
            f"WHERE (s.{first} IS NULL OR {s_ge}) AND (m.{q(seq[0])} IS NULL OR {wm_ge})")


def scd1_merge_sql(spec: MergeOptions, target: str, source_view: str, data: list[str]) -> str:
    """MERGE of the SCD1 source into the target (as :func:`kappa.cdc.target.write_scd1`)."""
    keys = list(spec.keys or [])
    values = [c for c in data if c not in keys]
    evolve = " WITH SCHEMA EVOLUTION" if spec.schema_evolution == "merge" else ""
    out = [f"MERGE{evolve} INTO {target} AS t USING {q(source_view)} AS s ON {_eq(keys, 't', 's')}",
           "WHEN MATCHED AND s.__kappa_action = 'delete' THEN DELETE"]
    if values:
        sets = ", ".join(f"t.{q(c)} = s.{q(c)}" for c in values)
        out.append(f"WHEN MATCHED AND s.__kappa_action = 'upsert' THEN UPDATE SET {sets}")
    cols = ", ".join(q(c) for c in data)
    vals = ", ".join(f"s.{q(c)}" for c in data)
    out.append(f"WHEN NOT MATCHED AND s.__kappa_action = 'upsert' THEN INSERT ({cols}) VALUES ({vals})")
    return "\n".join(out)


def scd1_state_sql(spec: MergeOptions, source_view: str, version: int) -> str:
    """The state rows a batch appends: applied keys, their sequence, deleted or not."""
    from kappa.cdc.prepare import BATCH, DELETED, KIND, seq_names

    cols = [*(q(k) for k in spec.keys or []), *(q(s) for s in seq_names(len(spec.sequence_columns)))]
    return (f"SELECT {', '.join(cols)}, {q(DELETED)}, 'key' AS {q(KIND)}, "
            f"CAST({int(version)} AS BIGINT) AS {q(BATCH)} FROM {q(source_view)}")


def scd2_history_sql(spec: MergeOptions, events_view: str, data: list[str], log: str | None,
                     batch_data: Sequence[str] | None = None, log_columns: Sequence[str] | None = None) -> str:
    """The touched keys' versions (data columns, ``__START_AT``, ``__END_AT``) from the logged
    events plus the batch's (:func:`kappa.cdc.scd2.history` in SQL). ``data``: every data
    column (the batch's, then the log's others); a column one side lacks is NULL there."""
    from kappa.cdc.prepare import BATCH, OP, ROW, seq_names
    from kappa.cdc.scd2 import tracked_columns
    from kappa.plan_kinds import END_AT, START_AT

    keys, seq = list(spec.keys or []), seq_names(len(spec.sequence_columns))
    tracked = tracked_columns(data, keys, spec.sequence_columns, spec.track_history_column_list,
                              spec.track_history_except_column_list)
    ks, ss = ", ".join(q(k) for k in keys), ", ".join(q(s) for s in seq)
    every = [*data, *seq, OP, BATCH, ROW]
    cols = ", ".join(q(c) for c in every)

    def side(have: Sequence[str] | None) -> str:
        return ", ".join(q(c) if have is None or c in have or c not in data else f"NULL AS {q(c)}" for c in every)

    ev = f"SELECT {side(batch_data)} FROM {q(events_view)}"
    if log is not None:
        touched = f"SELECT DISTINCT {ks} FROM {q(events_view)}"
        ev = (f"SELECT l.* FROM (SELECT {side(log_columns)} FROM {log}) l LEFT SEMI JOIN ({touched}) b "
              f"ON {_eq(keys, 'l', 'b')} UNION ALL {ev}")
    sq_eq = " AND ".join(f"e.{q(s)} = d.{q(s)}" for s in seq)
    ctes = [
        f"ev AS ({ev})",
        f"dels AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {ks}, {ss} ORDER BY {q(BATCH)}, {q(ROW)}) AS __kappa_rn_d "
        f"FROM ev WHERE {q(OP)} = 1) WHERE __kappa_rn_d = 1)",
        f"ups AS (SELECT e.* FROM ev e LEFT ANTI JOIN dels d ON {_eq(keys, 'e', 'd')} AND {sq_eq} WHERE e.{q(OP)} = 0)",
        f"allev AS (SELECT {cols} FROM ups UNION ALL SELECT {cols} FROM dels)",
        f"seg AS (SELECT *, coalesce(sum(CASE WHEN {q(OP)} = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY {ks} "
        f"ORDER BY {ss}, {q(OP)}, {q(BATCH)}, {q(ROW)} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS __kappa_seg FROM allev)",
        f"u AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY {ks}, {ss} ORDER BY {q(BATCH)} DESC, {q(ROW)} DESC) AS __kappa_rn_u "
        f"FROM seg WHERE {q(OP)} = 0) WHERE __kappa_rn_u = 1)",
    ]
    changed = " OR ".join(["row_number() OVER g = 1", *(f"NOT ({q(c)} <=> lag({q(c)}) OVER g)" for c in tracked)])
    ctes.append(f"c AS (SELECT *, ({changed}) AS __kappa_changed FROM u WINDOW g AS (PARTITION BY {ks}, __kappa_seg ORDER BY {ss}))")
    ctes.append(f"v AS (SELECT *, sum(CASE WHEN __kappa_changed THEN 1 ELSE 0 END) OVER (PARTITION BY {ks}, __kappa_seg "
                f"ORDER BY {ss} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS __kappa_ver FROM c)")
    starts = ", ".join(f"first({q(s)}) OVER vw AS __kappa_start_{i}" for i, s in enumerate(seq))
    desc = ", ".join(f"{q(s)} DESC" for s in seq)
    ctes.append(f"vs AS (SELECT * FROM (SELECT v.*, {starts}, row_number() OVER (PARTITION BY {ks}, __kappa_seg, "
                f"__kappa_ver ORDER BY {desc}) AS __kappa_rn_v FROM v WINDOW vw AS (PARTITION BY {ks}, __kappa_seg, __kappa_ver "
                f"ORDER BY {ss} ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) WHERE __kappa_rn_v = 1)")
    nexts = ", ".join(f"lead(__kappa_start_{i}) OVER (PARTITION BY {ks}, __kappa_seg ORDER BY __kappa_ver) AS __kappa_next_{i}"
                      for i in range(len(seq)))
    ctes.append(f"h AS (SELECT vs.*, {nexts} FROM vs)")
    closers = f"SELECT {ks}, __kappa_seg, {', '.join(f'{q(s)} AS __kappa_del_{i}' for i, s in enumerate(seq))} FROM seg WHERE {q(OP)} = 1"
    ends = [f"CASE WHEN h.__kappa_next_0 IS NOT NULL THEN h.__kappa_next_{i} ELSE d.__kappa_del_{i} END" for i in range(len(seq))]
    if len(seq) == 1:
        start_at, end_at = "h.__kappa_start_0", ends[0]
    else:
        names = spec.sequence_columns
        start_at = "named_struct(" + ", ".join(f"'{n}', h.__kappa_start_{i}" for i, n in enumerate(names)) + ")"
        end_at = (f"CASE WHEN ({ends[0]}) IS NULL THEN NULL ELSE named_struct("
                  + ", ".join(f"'{n}', {e}" for n, e in zip(names, ends)) + ") END")
    select = ", ".join([*(f"h.{q(c)}" for c in data), f"{start_at} AS {q(START_AT)}", f"{end_at} AS {q(END_AT)}"])
    return (f"WITH {', '.join(ctes)} SELECT {select} FROM h LEFT JOIN ({closers}) d "
            f"ON {_eq(keys, 'h', 'd')} AND h.__kappa_seg = d.__kappa_seg")


def scd2_source_sql(spec: MergeOptions, history_view: str, events_view: str, data: list[str]) -> str:
    """The SCD2 MERGE source: the versions to insert, one delete marker per touched key."""
    from kappa.plan_kinds import END_AT, START_AT

    keys = list(spec.keys or [])
    ins = ", ".join([*(q(c) for c in data), q(START_AT), q(END_AT), "'ins' AS __kappa_action"])
    marker = ", ".join([*(q(c) if c in keys else f"NULL AS {q(c)}" for c in data),
                        f"NULL AS {q(START_AT)}", f"NULL AS {q(END_AT)}", "'del' AS __kappa_action"])
    ks = ", ".join(q(k) for k in keys)
    return (f"SELECT {ins} FROM {q(history_view)} UNION ALL "
            f"SELECT {marker} FROM (SELECT DISTINCT {ks} FROM {q(events_view)})")


def scd2_merge_sql(spec: MergeOptions, target: str, source_view: str, data: list[str]) -> str:
    """MERGE replacing the touched keys' history (as :func:`kappa.cdc.target.write_scd2`)."""
    from kappa.plan_kinds import END_AT, START_AT

    keys = list(spec.keys or [])
    evolve = " WITH SCHEMA EVOLUTION" if spec.schema_evolution == "merge" else ""
    cols = [*data, START_AT, END_AT]
    return "\n".join([
        f"MERGE{evolve} INTO {target} AS t USING {q(source_view)} AS s ON {_eq(keys, 't', 's')} AND s.__kappa_action = 'del'",
        "WHEN MATCHED THEN DELETE",
        f"WHEN NOT MATCHED AND s.__kappa_action = 'ins' THEN INSERT ({', '.join(q(c) for c in cols)}) "
        f"VALUES ({', '.join(f's.{q(c)}' for c in cols)})",
    ])


def merge_plan(
    spec: MergeOptions, *, changes_view: str, columns: list[str], target: str, state: str,
    app_id: str, version: int, target_exists: bool, state_exists: bool,
    target_done: bool = False, state_done: bool = False, state_version: int | None = None,
    log_columns: list[str] | None = None, prefix: str = "kappa_cdc",
) -> list[Step]:
    """The steps applying batch ``version`` of ``app_id`` (see the module docstring).

    ``columns``: the batch view's columns; ``target``/``state``: Delta table paths;
    ``log_columns``: the SCD2 log's columns (its data columns absent from the batch are kept).
    Both done -> ``[]``."""
    from kappa.plan_kinds import END_AT, RESERVED_PREFIX, START_AT

    _check(spec)
    if target_done and state_done:
        return []
    events, source, hist = f"{prefix}_events", f"{prefix}_source", f"{prefix}_history"
    select, data = events_sql(spec, changes_view, columns, version)
    state_ref = table(state, state_version) if state_exists else None
    txn = (app_id, int(version))
    # a view, then cached: `CACHE TABLE v AS ...` would leave a view the next batch cannot re-create
    steps = [Step("sql", f"CREATE OR REPLACE TEMP VIEW {q(events)} AS {select}"),
             Step("sql", f"CACHE TABLE {q(events)}"), Step("check", checks_sql(spec, events))]
    if spec.stored_as_scd_type == 1:
        steps.append(Step("sql", f"CREATE OR REPLACE TEMP VIEW {q(source)} AS {scd1_source_sql(spec, events, data, state_ref)}"))
        merge, state_write = scd1_merge_sql(spec, table(target), source, data), scd1_state_sql(spec, source, version)
        appended = f"{prefix}_state_rows"
        state_steps = [Step("sql", f"CREATE OR REPLACE TEMP VIEW {q(appended)} AS {state_write}"),
                       Step("append", view=appended, path=state, txn=txn, options={"mergeSchema": "true"})]
    else:
        batch_data = list(data)
        data = data + [c for c in (log_columns or []) if c not in data and not c.startswith(RESERVED_PREFIX)]
        history = scd2_history_sql(spec, events, data, state_ref, batch_data, log_columns if state_ref else None)
        steps.append(Step("sql", f"CREATE OR REPLACE TEMP VIEW {q(hist)} AS {history}"))
        steps.append(Step("sql", f"CREATE OR REPLACE TEMP VIEW {q(source)} AS {scd2_source_sql(spec, hist, events, data)}"))
        merge = scd2_merge_sql(spec, table(target), source, data)
        state_steps = [Step("append", view=events, path=state, txn=txn, options={"mergeSchema": "true"})]
    if not target_done:
        if not target_exists:
            kept = data if spec.stored_as_scd_type == 1 else [*data, START_AT, END_AT]
            steps.append(Step("sql", f"CREATE TABLE IF NOT EXISTS {table(target)} USING DELTA AS "
                                     f"SELECT {', '.join(q(c) for c in kept)} FROM {q(source)} WHERE false"))
        steps.append(Step("sql", merge, txn=txn))
    if not state_done:
        steps += state_steps
    steps.append(Step("sql", f"UNCACHE TABLE IF EXISTS {q(events)}"))
    return steps


def run_plan(spark: SparkSession, steps: list[Step]) -> None:
    """Run the steps in order (unverified: needs delta-spark; see the module docstring)."""
    for step in steps:
        if step.kind == "append":
            writer = spark.table(step.view).write.format("delta").mode("append").options(**step.options)
            if step.txn is not None:
                writer = writer.option("txnAppId", step.txn[0]).option("txnVersion", str(step.txn[1]))
            writer.save(step.path)
            continue
        if step.txn is not None:
            spark.conf.set(TXN_APP_CONF, step.txn[0])
            spark.conf.set(TXN_VERSION_CONF, str(step.txn[1]))
        try:
            result = spark.sql(step.sql)
            if step.kind == "check":
                row = result.first()  # one row of two counts: metadata, not data
                if row is not None and (row[0] or row[1]):
                    raise KappaError(f"{row[0]} CDC event(s) have a null sequence_by value, {row[1]} a null key")
        finally:
            if step.txn is not None:
                spark.conf.unset(TXN_APP_CONF)
                spark.conf.unset(TXN_VERSION_CONF)
