"""Incremental state of streaming nodes on Polars: the same state as Spark, in the node's checkpoint.

Modules: :mod:`.store` (state versions under ``<replay>/state/<batch_id>/``), :mod:`.run` (one
batch of a stateful node's steps, the no-data batch rule), :mod:`.dedup`, :mod:`.aggregate`
(partial aggregates per group, windows), :mod:`.sessions` and :mod:`.sqlsplit` (the aggregate step split into a
pre-stage and a final stage, both run through kappa's Spark-SQL translator).

Spark's rules, verified on local Spark 4.2.0 (parquet stream, one file per ``availableNow`` run;
also in ``/work/wt/VERIFIED_RULES.md`` at the time of writing):

- Watermark (Spark keeps it in whole milliseconds; kappa stores microseconds, truncated to the
  ms like Spark): ``wm[0] = 0``; after batch N, ``wm[N+1] = max(wm[N], maxEventTime(batch N) - delay)``;
  an empty batch leaves it. A stateful operator in batch N drops late rows with ``wm[N-1]``
  (0 in batch 0) and evicts/emits with ``wm[N]``.
- No-data batch: runs under availableNow too, after the data batches, when a watermark is
  defined upstream of a stateful operator and ``wm[N+1] > wm[N]`` (also for a dedup whose
  subset lacks the event time, and a non-windowed aggregate; not for a complete-mode
  aggregate). So every data batch after the first has late watermark == eviction watermark.
- Late predicate ``<=``: a dedup row is late when ``event_time <= wm_late`` (even when the
  event-time column is not in the subset); a window (row, window) when ``window.end <= wm_late``
  (a sliding-window row can be late for some of its windows only). A non-windowed aggregate
  drops nothing and evicts nothing. Spark counts partially aggregated late rows
  (``numRowsDroppedByWatermark``); kappa counts the input rows all of whose windows are late.
- Eviction: dedup keys when the event-time column is in the subset and ``time <= wm_evict``;
  dedup within the watermark when ``event_time + delay <= wm_evict``; windows when
  ``end <= wm_evict`` (append: emitted then removed; update: the touched groups are emitted,
  then expired ones removed silently; complete: never).
- Only a window over the watermarked column is bounded by the watermark (kappa does not treat a
  plain ``GROUP BY ts`` on the event-time column as bounded, nor follow a renamed event-time column).
- Complete mode: no no-data batch, no late drop, no eviction; every group each batch.
- Session windows in update mode: Spark refuses them ("Invalid streaming output mode: update").
- Types: ``window`` is ``struct<start: timestamp[us, UTC], end: timestamp[us, UTC]>``;
  avg(DECIMAL(p,s)) DECIMAL(p+4,s+4), sum(DECIMAL(p,s)) DECIMAL(p+10,s), count BIGINT.
- Session windows (:mod:`.sessions`): a row's session ``[ts, ts+gap)`` is late when its end
  ``<= wm_late``; sessions of a key that overlap or touch merge, across batches too; append
  emits a session when its end ``<= wm_evict``.
"""
