"""The CDC MERGE sink: change events MERGEd into a Delta table (SCD type 1 or 2).

Written as a Delta sink with ``merge`` options (:class:`~kappa.connectors.delta.DeltaDataSink`,
``mode: merge``), planned as a :class:`~kappa.plan_kinds.MergeSinkPlan`: the table fields of a
Delta sink plus the resolved :class:`~kappa.plan_kinds.MergeOptions`. Downstream nodes read its
table as they read a Delta sink's; it is written with app transactions like one.

>>> from kappa.models.cdc import CdcMerge
>>> merge_options(CdcMerge(keys=["id"], sequence_by="ts")).as_dict()
{'keys': ['id'], 'sequence_by': 'ts'}
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from kappa.connectors.base import SinkContext, SinkKind
from kappa.connectors.delta import DeltaDataSink, app_tables, describe_table, table_fields, upstream_source
from kappa.models.cdc import CdcMerge
from kappa.plan_kinds import MergeOptions, MergeSinkPlan


def merge_options(merge: CdcMerge) -> MergeOptions:
    """A resolved :class:`~kappa.models.cdc.CdcMerge` as the plan's :class:`MergeOptions`."""
    return MergeOptions(**{f.name: getattr(merge, f.name) for f in fields(MergeOptions)})


def _plan(sink: DeltaDataSink, ctx: SinkContext) -> MergeSinkPlan:
    return MergeSinkPlan(**table_fields(sink, ctx, "merge"), merge=merge_options(sink.merge))


def _describe(sink: MergeSinkPlan) -> dict[str, Any]:
    return describe_table(sink, merge=sink.merge.as_dict())


SINK = SinkKind(
    name="cdc_merge",
    model=DeltaDataSink,  # its `merge` options make it this kind (no `type` tag of its own)
    claims=lambda sink: sink.merge is not None,
    plan_classes=(MergeSinkPlan,),
    plan=_plan,
    describe=_describe,
    secret_fields=("storage_options",),
    read_rank=0,
    upstream_source=upstream_source,
    app_tables=app_tables,
)
