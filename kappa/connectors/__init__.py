"""Connectors: one module per source/sink kind behind two small types and one registry.

Design. Everything kappa knows about a kind of source or sink that is not engine code lives in
that kind's module: its pydantic model, how it is recognised in a config without a ``type``
key, the typed plan it becomes (:mod:`kappa.plan_kinds`), how ``explain`` and the replay
fingerprint describe it, which Delta tables it writes with app transactions (ownership) and
what a ``--full-refresh`` deletes. :mod:`kappa.connectors.registry` holds one row per kind
(``SOURCES``, ``SINKS``); the spec unions (:mod:`kappa.models.sources`,
:mod:`kappa.models.sinks`), the plan builder, the config messages and the checkpoint code look
kinds up there instead of testing ``kind == "kafka"``. The engines keep their read/write code
under ``kappa/engines/*/connectors/``, keyed by ``plan.kind``.

The package is engine-neutral and as pure as the spec models (``.importlinter``): the kind
modules import pydantic, :mod:`kappa.models.base`, :mod:`kappa.models.cdc`,
:mod:`kappa.errors`, :mod:`kappa.plan_kinds` and :mod:`kappa.merge_columns` only.

A new sink kind: one module here (model, ``SINK = SinkKind(...)``), one row in
:mod:`kappa.connectors.registry`, its plan dataclass in :mod:`kappa.plan_kinds`, and its
engine writers.
"""
