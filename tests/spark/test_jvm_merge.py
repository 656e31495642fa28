"""The jvm CDC MERGE plan builder (kappa.engines.spark.jvm_merge): the exact SQL of one batch.

Pure: no Spark. What the SQL computes is checked against the AUTO CDC oracle on a real Spark
in test_jvm_merge_semantics.py; the Delta statements (MERGE, appends) cannot run here.
"""

from __future__ import annotations

import pytest

from kappa.engines.spark import jvm_merge as jm
from kappa.engines.spark.jvm_merge import JvmMergeUnsupported, Step
from kappa.errors import KappaError
from kappa.models.cdc import CdcMerge

SPEC1 = CdcMerge(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'd'", except_column_list=["op"])
SPEC2 = CdcMerge(keys=["id"], sequence_by="seq", apply_as_deletes="op = 'd'", except_column_list=["op"],
                 stored_as_scd_type=2)
LOG = ["id", "seq", "a", "__kappa_seq_0", "__kappa_op", "__kappa_batch", "__kappa_row"]

SCD1 = [
    Step('sql', (
        'CREATE OR REPLACE TEMP VIEW `kappa_cdc_events` AS SELECT `id`, `seq`, `a`, `seq` AS '
        "`__kappa_seq_0`, CAST(CASE WHEN (op = 'd') THEN 1 ELSE 0 END AS TINYINT) AS `__kappa_op`, "
        'CAST(7 AS BIGINT) AS `__kappa_batch`, CAST(monotonically_increasing_id() AS BIGINT) AS '
        '`__kappa_row` FROM `batch`'
    )),
    Step('sql', (
        'CACHE TABLE `kappa_cdc_events`'
    )),
    Step('check', (
        'SELECT count_if(`__kappa_seq_0` IS NULL) AS null_sequence, count_if(`id` IS NULL) AS '
        'null_key FROM `kappa_cdc_events`'
    )),
    Step('sql', (
        'CREATE OR REPLACE TEMP VIEW `kappa_cdc_source` AS WITH w AS (SELECT * FROM (SELECT *, '
        'row_number() OVER (PARTITION BY `id` ORDER BY `__kappa_seq_0` DESC, `__kappa_op` DESC, '
        '`__kappa_row` DESC) AS __kappa_rn FROM `kappa_cdc_events`) WHERE __kappa_rn = 1), s AS '
        '(SELECT * FROM (SELECT `id`, `__kappa_seq_0`, `__kappa_deleted`, row_number() OVER '
        '(PARTITION BY `id` ORDER BY `__kappa_batch` DESC) AS __kappa_rn FROM '
        "delta.`/t/c__kappa_cdc_state` WHERE `__kappa_kind` = 'key') WHERE __kappa_rn = 1), m AS "
        "(SELECT `__kappa_seq_0` FROM delta.`/t/c__kappa_cdc_state` WHERE `__kappa_kind` = 'truncate' "
        'ORDER BY `__kappa_batch` DESC LIMIT 1) SELECT w.`id`, w.`seq`, w.`a`, w.`__kappa_seq_0`, '
        "w.`__kappa_op` = 1 AS `__kappa_deleted`, CASE WHEN w.`__kappa_op` = 1 THEN 'delete' ELSE "
        "'upsert' END AS __kappa_action FROM w LEFT JOIN s ON w.`id` = s.`id` LEFT JOIN m ON true "
        'WHERE (s.`id` IS NULL OR (w.`__kappa_seq_0` > s.`__kappa_seq_0` OR (w.`__kappa_seq_0` = '
        's.`__kappa_seq_0` AND (w.`__kappa_op` = 1) >= s.`__kappa_deleted`))) AND (m.`__kappa_seq_0` '
        'IS NULL OR (w.`__kappa_seq_0` > m.`__kappa_seq_0` OR (w.`__kappa_seq_0` = m.`__kappa_seq_0` '
        'AND (w.`__kappa_op` = 1) >= true)))'
    )),
    Step('sql', (
        'CREATE TABLE IF NOT EXISTS delta.`/t/c` USING DELTA AS SELECT `id`, `seq`, `a` FROM '
        '`kappa_cdc_source` WHERE false'
    )),
    Step('sql', (
        'MERGE WITH SCHEMA EVOLUTION INTO delta.`/t/c` AS t USING `kappa_cdc_source` AS s ON t.`id` = '
        's.`id`\n'
        "WHEN MATCHED AND s.__kappa_action = 'delete' THEN DELETE\n"
        "WHEN MATCHED AND s.__kappa_action = 'upsert' THEN UPDATE SET t.`seq` = s.`seq`, t.`a` = "
        's.`a`\n'
        "WHEN NOT MATCHED AND s.__kappa_action = 'upsert' THEN INSERT (`id`, `seq`, `a`) VALUES "
        '(s.`id`, s.`seq`, s.`a`)'
    ), txn=('kappa:spark:n:0', 7)),
    Step('sql', (
        'CREATE OR REPLACE TEMP VIEW `kappa_cdc_state_rows` AS SELECT `id`, `__kappa_seq_0`, '
        "`__kappa_deleted`, 'key' AS `__kappa_kind`, CAST(7 AS BIGINT) AS `__kappa_batch` FROM "
        '`kappa_cdc_source`'
    )),
    Step('append', view='kappa_cdc_state_rows', path='/t/c__kappa_cdc_state', txn=('kappa:spark:n:0', 7), options={'mergeSchema': 'true'}),
    Step('sql', (
        'UNCACHE TABLE IF EXISTS `kappa_cdc_events`'
    )),
]

SCD2 = [
    Step('sql', (
        'CREATE OR REPLACE TEMP VIEW `kappa_cdc_events` AS SELECT `id`, `seq`, `a`, `seq` AS '
        "`__kappa_seq_0`, CAST(CASE WHEN (op = 'd') THEN 1 ELSE 0 END AS TINYINT) AS `__kappa_op`, "
        'CAST(3 AS BIGINT) AS `__kappa_batch`, CAST(monotonically_increasing_id() AS BIGINT) AS '
        '`__kappa_row` FROM `batch`'
    )),
    Step('sql', (
        'CACHE TABLE `kappa_cdc_events`'
    )),
    Step('check', (
        'SELECT count_if(`__kappa_seq_0` IS NULL) AS null_sequence, count_if(`id` IS NULL) AS '
        'null_key FROM `kappa_cdc_events`'
    )),
    Step('sql', (
        'CREATE OR REPLACE TEMP VIEW `kappa_cdc_history` AS WITH ev AS (SELECT l.* FROM (SELECT `id`, '
        '`seq`, `a`, `__kappa_seq_0`, `__kappa_op`, `__kappa_batch`, `__kappa_row` FROM '
        'delta.`/t/h__kappa_cdc_state`) l LEFT SEMI JOIN (SELECT DISTINCT `id` FROM '
        '`kappa_cdc_events`) b ON l.`id` = b.`id` UNION ALL SELECT `id`, `seq`, `a`, `__kappa_seq_0`, '
        '`__kappa_op`, `__kappa_batch`, `__kappa_row` FROM `kappa_cdc_events`), dels AS (SELECT * '
        'FROM (SELECT *, row_number() OVER (PARTITION BY `id`, `__kappa_seq_0` ORDER BY '
        '`__kappa_batch`, `__kappa_row`) AS __kappa_rn_d FROM ev WHERE `__kappa_op` = 1) WHERE '
        '__kappa_rn_d = 1), ups AS (SELECT e.* FROM ev e LEFT ANTI JOIN dels d ON e.`id` = d.`id` AND '
        'e.`__kappa_seq_0` = d.`__kappa_seq_0` WHERE e.`__kappa_op` = 0), allev AS (SELECT `id`, '
        '`seq`, `a`, `__kappa_seq_0`, `__kappa_op`, `__kappa_batch`, `__kappa_row` FROM ups UNION ALL '
        'SELECT `id`, `seq`, `a`, `__kappa_seq_0`, `__kappa_op`, `__kappa_batch`, `__kappa_row` FROM '
        'dels), seg AS (SELECT *, coalesce(sum(CASE WHEN `__kappa_op` = 1 THEN 1 ELSE 0 END) OVER '
        '(PARTITION BY `id` ORDER BY `__kappa_seq_0`, `__kappa_op`, `__kappa_batch`, `__kappa_row` '
        'ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS __kappa_seg FROM allev), u AS '
        '(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY `id`, `__kappa_seq_0` ORDER BY '
        '`__kappa_batch` DESC, `__kappa_row` DESC) AS __kappa_rn_u FROM seg WHERE `__kappa_op` = 0) '
        'WHERE __kappa_rn_u = 1), c AS (SELECT *, (row_number() OVER g = 1 OR NOT (`a` <=> lag(`a`) '
        'OVER g)) AS __kappa_changed FROM u WINDOW g AS (PARTITION BY `id`, __kappa_seg ORDER BY '
        '`__kappa_seq_0`)), v AS (SELECT *, sum(CASE WHEN __kappa_changed THEN 1 ELSE 0 END) OVER '
        '(PARTITION BY `id`, __kappa_seg ORDER BY `__kappa_seq_0` ROWS BETWEEN UNBOUNDED PRECEDING '
        'AND CURRENT ROW) AS __kappa_ver FROM c), vs AS (SELECT * FROM (SELECT v.*, '
        'first(`__kappa_seq_0`) OVER vw AS __kappa_start_0, row_number() OVER (PARTITION BY `id`, '
        '__kappa_seg, __kappa_ver ORDER BY `__kappa_seq_0` DESC) AS __kappa_rn_v FROM v WINDOW vw AS '
        '(PARTITION BY `id`, __kappa_seg, __kappa_ver ORDER BY `__kappa_seq_0` ROWS BETWEEN UNBOUNDED '
        'PRECEDING AND UNBOUNDED FOLLOWING)) WHERE __kappa_rn_v = 1), h AS (SELECT vs.*, '
        'lead(__kappa_start_0) OVER (PARTITION BY `id`, __kappa_seg ORDER BY __kappa_ver) AS '
        '__kappa_next_0 FROM vs) SELECT h.`id`, h.`seq`, h.`a`, h.__kappa_start_0 AS `__START_AT`, '
        'CASE WHEN h.__kappa_next_0 IS NOT NULL THEN h.__kappa_next_0 ELSE d.__kappa_del_0 END AS '
        '`__END_AT` FROM h LEFT JOIN (SELECT `id`, __kappa_seg, `__kappa_seq_0` AS __kappa_del_0 FROM '
        'seg WHERE `__kappa_op` = 1) d ON h.`id` = d.`id` AND h.__kappa_seg = d.__kappa_seg'
    )),
    Step('sql', (
        'CREATE OR REPLACE TEMP VIEW `kappa_cdc_source` AS SELECT `id`, `seq`, `a`, `__START_AT`, '
        "`__END_AT`, 'ins' AS __kappa_action FROM `kappa_cdc_history` UNION ALL SELECT `id`, NULL AS "
        "`seq`, NULL AS `a`, NULL AS `__START_AT`, NULL AS `__END_AT`, 'del' AS __kappa_action FROM "
        '(SELECT DISTINCT `id` FROM `kappa_cdc_events`)'
    )),
    Step('sql', (
        'MERGE WITH SCHEMA EVOLUTION INTO delta.`/t/h` AS t USING `kappa_cdc_source` AS s ON t.`id` = '
        "s.`id` AND s.__kappa_action = 'del'\n"
        'WHEN MATCHED THEN DELETE\n'
        "WHEN NOT MATCHED AND s.__kappa_action = 'ins' THEN INSERT (`id`, `seq`, `a`, `__START_AT`, "
        '`__END_AT`) VALUES (s.`id`, s.`seq`, s.`a`, s.`__START_AT`, s.`__END_AT`)'
    ), txn=('kappa:spark:n:0', 3)),
    Step('append', view='kappa_cdc_events', path='/t/h__kappa_cdc_state', txn=('kappa:spark:n:0', 3), options={'mergeSchema': 'true'}),
    Step('sql', (
        'UNCACHE TABLE IF EXISTS `kappa_cdc_events`'
    )),
]


def plan1(**kw):
    args = dict(changes_view="batch", columns=["id", "seq", "op", "a"], target="/t/c",
                state="/t/c__kappa_cdc_state", app_id="kappa:spark:n:0", version=7,
                target_exists=False, state_exists=True)
    return jm.merge_plan(SPEC1, **{**args, **kw})


def plan2(**kw):
    args = dict(changes_view="batch", columns=["id", "seq", "op", "a"], target="/t/h",
                state="/t/h__kappa_cdc_state", app_id="kappa:spark:n:0", version=3,
                target_exists=True, state_exists=True, log_columns=LOG)
    return jm.merge_plan(SPEC2, **{**args, **kw})


def test_scd1_plan_exact():
    assert plan1() == SCD1


def test_scd2_plan_exact():
    assert plan2() == SCD2


def test_committed_tables_are_left_out_and_a_repair_reads_the_state_before():
    assert plan1(target_done=True, state_done=True) == []
    state_only = plan1(target_done=True)
    assert [s.kind for s in state_only] == ["sql", "sql", "check", "sql", "sql", "append", "sql"]
    assert not any("MERGE" in s.sql or "CREATE TABLE" in s.sql for s in state_only)
    target_only = plan1(state_done=True, state_version=11, target_exists=True)
    assert [s.kind for s in target_only] == ["sql", "sql", "check", "sql", "sql", "sql"]
    assert target_only[3].sql.count("delta.`/t/c__kappa_cdc_state` VERSION AS OF 11") == 2
    assert target_only[4] == SCD1[5]  # the MERGE, with the batch's txn
    log_repair = plan2(state_done=True, state_version=5)
    assert "FROM delta.`/t/h__kappa_cdc_state` VERSION AS OF 5) l LEFT SEMI JOIN" in log_repair[3].sql
    assert [s.kind for s in log_repair][-2:] == ["sql", "sql"]  # the MERGE, then UNCACHE: no append


def test_first_batch_has_no_state_to_read():
    first = plan1(state_exists=False)
    assert first[3].sql == (
        "CREATE OR REPLACE TEMP VIEW `kappa_cdc_source` AS WITH w AS (SELECT * FROM (SELECT *, "
        "row_number() OVER (PARTITION BY `id` ORDER BY `__kappa_seq_0` DESC, `__kappa_op` DESC, "
        "`__kappa_row` DESC) AS __kappa_rn FROM `kappa_cdc_events`) WHERE __kappa_rn = 1) SELECT w.`id`, "
        "w.`seq`, w.`a`, w.`__kappa_seq_0`, w.`__kappa_op` = 1 AS `__kappa_deleted`, CASE WHEN "
        "w.`__kappa_op` = 1 THEN 'delete' ELSE 'upsert' END AS __kappa_action FROM w"
    )
    history = plan2(state_exists=False)[3].sql
    assert "WITH ev AS (SELECT `id`, `seq`, `a`, `__kappa_seq_0`, `__kappa_op`, `__kappa_batch`, `__kappa_row` FROM `kappa_cdc_events`), dels AS" in history


def test_two_sequence_columns_compare_lexicographically_and_pack_structs():
    assert jm._lex_ge(["a.x", "a.y", "a.d = 1"], ["b.x", "b.y", "b.d"]) == (
        "(a.x > b.x OR (a.x = b.x AND (a.y > b.y OR (a.y = b.y AND (a.d = 1) >= b.d))))"
    )
    spec = CdcMerge(keys=["id"], sequence_by=["lsn", "ts"], stored_as_scd_type=2, schema_evolution="fail")
    history = jm.scd2_history_sql(spec, "ev", ["id", "lsn", "ts", "a"], None)
    assert history.endswith(
        "named_struct('lsn', h.__kappa_start_0, 'ts', h.__kappa_start_1) AS `__START_AT`, "
        "CASE WHEN (CASE WHEN h.__kappa_next_0 IS NOT NULL THEN h.__kappa_next_0 ELSE d.__kappa_del_0 END) "
        "IS NULL THEN NULL ELSE named_struct('lsn', CASE WHEN h.__kappa_next_0 IS NOT NULL THEN "
        "h.__kappa_next_0 ELSE d.__kappa_del_0 END, 'ts', CASE WHEN h.__kappa_next_0 IS NOT NULL THEN "
        "h.__kappa_next_1 ELSE d.__kappa_del_1 END) END AS `__END_AT` FROM h LEFT JOIN (SELECT `id`, "
        "__kappa_seg, `__kappa_seq_0` AS __kappa_del_0, `__kappa_seq_1` AS __kappa_del_1 FROM seg "
        "WHERE `__kappa_op` = 1) d ON h.`id` = d.`id` AND h.__kappa_seg = d.__kappa_seg"
    )
    assert jm.scd2_merge_sql(spec, "delta.`/t`", "src", ["id", "a"]).startswith("MERGE INTO delta.`/t` AS t")


def test_what_is_not_built_is_refused():
    with pytest.raises(JvmMergeUnsupported, match="apply_as_truncates is not built"):
        jm.merge_plan(CdcMerge(keys=["id"], sequence_by="seq", apply_as_truncates="op = 't'"),
                      changes_view="b", columns=["id", "seq", "op"], target="/t", state="/s",
                      app_id="a", version=1, target_exists=False, state_exists=False)
    with pytest.raises(JvmMergeUnsupported, match="ignore_null_updates is not built"):
        jm.merge_plan(CdcMerge(keys=["id"], sequence_by="seq", ignore_null_updates=True, stored_as_scd_type=2),
                      changes_view="b", columns=["id", "seq"], target="/t", state="/s",
                      app_id="a", version=1, target_exists=False, state_exists=False)
    with pytest.raises(KappaError, match="not resolved"):
        jm.merge_plan(CdcMerge(keys=["id"]), changes_view="b", columns=["id"], target="/t", state="/s",
                      app_id="a", version=1, target_exists=False, state_exists=False)


def test_identifiers_are_quoted():
    assert jm.q("we`ird") == "`we``ird`"
    assert jm.table("/p/t", 3) == "delta.`/p/t` VERSION AS OF 3"
