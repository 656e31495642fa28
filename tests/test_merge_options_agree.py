"""The plan's :class:`MergeOptions` mirrors the spec's :class:`CdcMerge` field for field.

Both spell the same CDC MERGE: the model validates what a user wrote, the frozen dataclass carries
it through the plan to the engines. ``merge_options`` copies by field name, and the fingerprints
store ``MergeOptions.as_dict()`` as if it were ``CdcMerge.model_dump(exclude_defaults=True)``, so a
field added, renamed or re-defaulted on one side only would silently change a merge or a
checkpoint verdict. This test makes that drift loud.
"""

from __future__ import annotations

from dataclasses import MISSING, fields

from kappa.models.cdc import CdcMerge
from kappa.plan_kinds import MergeOptions


def test_same_fields_in_the_same_order():
    assert [f.name for f in fields(MergeOptions)] == list(CdcMerge.model_fields)


def test_same_defaults():
    for f in fields(MergeOptions):
        default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
        assert CdcMerge.model_fields[f.name].get_default(call_default_factory=True) == default, f.name


def test_as_dict_is_the_models_dump_without_defaults():
    merge = CdcMerge(keys=["id"], sequence_by=["ts", "lsn"], stored_as_scd_type=2, ignore_null_updates=True)
    options = MergeOptions(**{f.name: getattr(merge, f.name) for f in fields(MergeOptions)})
    assert options.as_dict() == merge.model_dump(exclude_defaults=True)
    assert options.as_dict() == {"keys": ["id"], "sequence_by": ["ts", "lsn"], "stored_as_scd_type": 2, "ignore_null_updates": True}
