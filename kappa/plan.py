"""The engine-neutral plan: what each node reads, runs and writes.

Both engines consume a :class:`PipelinePlan`. Building it resolves everything the engines
should not have to decide: the topological order and selection, paths made absolute against the
pipeline root, the sink each node source actually reads (a downstream node reads its
upstream's written Delta table or files, not the upstream's raw source), sink modes,
idempotency ids, checkpoint folders and triggers.

Design. The plan is typed and frozen: each source and sink is one dataclass of its kind
(:mod:`kappa.plan_kinds`, built from the pydantic models by each kind's ``plan`` hook in
:mod:`kappa.connectors`, which only :func:`build_plan` calls), each node carries its :class:`~kappa.plan_layout.CheckpointLayout`
and a :class:`~kappa.plan_kinds.TriggerPlan`. Engines, checkpoint code and the CLI read these,
never a model (an import-linter contract keeps the engines off :mod:`kappa.models`). Options
that may hold secrets stay ``${env.NAME}`` references until :func:`resolve_secrets` at use time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Sequence

from kappa.connectors import registry
from kappa.connectors.base import SinkContext
from kappa.plan_kinds import (  # noqa: F401 - the plan's public names
    DeltaSinkPlan,
    DeltaSourcePlan,
    ExpectationPlan,
    FileSinkPlan,
    FileSourcePlan,
    KafkaSinkPlan,
    KafkaSourcePlan,
    MemorySourcePlan,
    MergeOptions,
    MergeSinkPlan,
    SecretOptions,
    SinkPlan,
    SourcePlan,
    TriggerPlan,
    resolve_secrets,
)
from kappa.plan_layout import CheckpointLayout, sink_app_id

if TYPE_CHECKING:  # pragma: no cover
    from kappa.stateful.spec import StatefulPlan
    from kappa.models import Pipeline, PipelineNode, Trigger


def is_uri(path: str) -> bool:
    """Object-store and other URIs pass through unchanged."""
    return "://" in path


def resolve_path(path: str, root: Path) -> str:
    if is_uri(path):
        return path
    p = Path(os.path.expanduser(path))
    return str(p if p.is_absolute() else (root / p).resolve())


@dataclass(frozen=True, eq=False)
class StepPlan:
    """One transformer step."""

    index: int
    kind: Literal["sql", "method"]
    sql: str | None = None
    refs: tuple[str, ...] = ()
    func_name: str | None = None
    func_args: tuple[Any, ...] = ()
    func_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class NodePlan:
    """Everything an engine needs to run one node."""

    name: str
    source: SourcePlan | None
    steps: tuple[StepPlan, ...]
    expectations: tuple[ExpectationPlan, ...]
    sinks: tuple[SinkPlan, ...]
    trigger: TriggerPlan
    layout: CheckpointLayout
    upstreams: tuple[str, ...]
    sql_refs: tuple[str, ...]
    ref_sources: dict[str, SourcePlan] = field(default_factory=dict)
    #: why the node cannot run now (engines skip it and report this), e.g. a Debezium merge
    #: whose keys and sequence no record tells yet (:mod:`kappa.cdc.sink_defaults`)
    skipped: str | None = None
    #: the streaming node's stateful operators and output mode (:mod:`kappa.stateful`); None for
    #: a stateless or non-streaming node
    state: "StatefulPlan | None" = None

    @property
    def checkpoint(self) -> str:
        """The node's checkpoint folder (``layout.root``)."""
        return self.layout.root

    @property
    def streaming(self) -> bool:
        return bool(self.source and self.source.streaming)

    @property
    def in_memory_output(self) -> bool:
        """True when the node has no output sink downstream nodes can read (Delta, files): they
        read its output from memory (so it must run in the same run as they do)."""
        return not any(registry.readable(s) for s in self.output_sinks)

    @property
    def output_sinks(self) -> tuple[SinkPlan, ...]:
        return tuple(s for s in self.sinks if not s.quarantine)

    @property
    def quarantine_sinks(self) -> tuple[SinkPlan, ...]:
        return tuple(s for s in self.sinks if s.quarantine)


@dataclass(frozen=True, eq=False)
class PipelinePlan:
    """Selected nodes in topological order, plus the whole pipeline's node plans for lookups."""

    pipeline: str
    root: str
    checkpoint_root: str
    order: tuple[str, ...]
    all_nodes: dict[str, NodePlan]
    #: the engine the sinks' app ids are tagged with (None: not yet bound, legacy ids)
    engine: str | None = None
    #: the pipeline's ``storage_options`` as written: defaults of every Delta table on an object
    #: store (already merged into the sources' and sinks' plans; :meth:`table_storage` for the others)
    storage_options: SecretOptions = field(default_factory=SecretOptions)

    def table_storage(self, path: str) -> dict[str, Any] | None:
        """Resolved storage options of a Delta table the plan holds no options for (a dead-letter
        table): the pipeline's on an object store (:func:`kappa.delta.storage.table_options`)."""
        from kappa.delta.storage import table_options

        return resolve_secrets(table_options(path, None, self.storage_options)) or None

    @property
    def folder(self) -> str:
        """``<checkpoint_root>/<pipeline>``: every node's checkpoint folder and the run lock."""
        return f"{self.checkpoint_root.rstrip('/')}/{self.pipeline}"

    def layout_of(self, name: str) -> CheckpointLayout:
        """The checkpoint layout of node ``name`` (also of a node no longer in the pipeline)."""
        node = self.all_nodes.get(name)
        return node.layout if node is not None else CheckpointLayout(f"{self.folder}/{name}")

    @property
    def nodes(self) -> list[NodePlan]:
        return [self.all_nodes[n] for n in self.order]

    def node(self, name: str) -> NodePlan:
        return self.all_nodes[name]

    def for_engine(self, engine: str) -> "PipelinePlan":
        """This plan with every sink's app id tagged with ``engine`` (see
        :mod:`kappa.checkpoint.ownership`): each engine runs the plan it returns."""
        from dataclasses import replace

        if self.engine == engine:
            return self
        nodes = {
            name: replace(n, sinks=tuple(replace(s, app_id=sink_app_id(engine, self.pipeline, name, s.index)) for s in n.sinks))
            for name, n in self.all_nodes.items()
        }
        return replace(self, all_nodes=nodes, engine=engine)


def _with_storage(plan: Any, storage: Any, writes: bool) -> Any:
    """A Delta source (``writes`` False) or sink plan with the pipeline's ``storage_options``
    merged into its own (:func:`kappa.delta.storage.table_options`); other plans unchanged."""
    from dataclasses import replace

    from kappa.delta.storage import table_options

    if plan is None or not hasattr(plan, "storage_options"):
        return plan
    merged = table_options(plan.path, plan.storage_options, storage, writes)
    return plan if merged == dict(plan.storage_options) else replace(plan, storage_options=SecretOptions(merged))


def _source_plan(node: "PipelineNode", nodes: dict[str, "PipelineNode"], root: Path, storage: Any = None) -> SourcePlan | None:
    if node.source is None:
        return None
    plan = registry.source_plan(node.source, node=node.name, nodes=nodes, resolve=lambda p: resolve_path(p, root))
    return _with_storage(plan, storage, writes=False)


def _trigger_plan(trigger: "Trigger") -> TriggerPlan:
    return TriggerPlan(kind=trigger.kind, interval=trigger.interval)


def pipeline_root(pipeline: Pipeline) -> Path:
    """The folder relative paths resolve against (like dbt's project folder).

    ``root_path`` when set (itself relative to the pipeline file's folder), else the folder of
    the pipeline file, else (a pipeline built in Python) the working directory.
    """
    base_dir = getattr(pipeline, "_base_dir", None)
    base = Path(base_dir) if base_dir else Path.cwd()
    if pipeline.root_path:
        return (base / Path(pipeline.root_path).expanduser()).resolve()
    return base.resolve()


def checkpoint_root_of(pipeline: "Pipeline", root: Path) -> str:
    """``checkpoint_root`` (relative to ``root``), else ``$KAPPA_CHECKPOINT_ROOT`` (relative to the
    working directory, as any path given in the environment), else ``<root>/checkpoints``."""
    if pipeline.checkpoint_root:
        return resolve_path(pipeline.checkpoint_root, root)
    env = os.environ.get("KAPPA_CHECKPOINT_ROOT")
    if env:
        from kappa.errors import ConfigError, ConfigIssue
        from kappa.models.pipeline import local_checkpoint_root

        try:
            env = local_checkpoint_root(env)
        except ValueError as exc:  # named like a file: "$KAPPA_CHECKPOINT_ROOT: `s3://...` is ..."
            raise ConfigError(ConfigIssue(str(exc), file="$KAPPA_CHECKPOINT_ROOT")) from None
        return resolve_path(env, Path.cwd())
    return resolve_path("checkpoints", root)


def _with_upsert_keys(sink: SinkPlan, node: str, state: "StatefulPlan | None") -> SinkPlan:
    """An upsert sink with its default keys: the node's streaming aggregate's grouping keys."""
    from dataclasses import replace

    from kappa.errors import ConfigError

    if sink.mode != "upsert" or getattr(sink, "keys", ()):
        return sink
    keys = state.upsert_keys if state is not None else ()
    if not keys:
        raise ConfigError(f"node {node!r} sink {sink.index}: mode `upsert` needs `keys`: only a streaming aggregate node "
                          "defaults them (to its grouping keys, window included)")
    return replace(sink, keys=keys)


def build_plan(pipeline: "Pipeline", select: Sequence[str] | None = None) -> PipelinePlan:
    """Compile a validated pipeline into the plan both engines run."""
    from kappa.graph import build_graph
    from kappa.models import PipelineNodeDataSource
    from kappa.sql.refs import node_refs
    from kappa.stateful.analyze import stateful_plan, stateful_source_kind

    graph = build_graph(pipeline)
    order = graph.select(select)
    root = pipeline_root(pipeline)
    ck_root = checkpoint_root_of(pipeline, root)
    if "://" in ck_root:  # an s3:// checkpoint root reads the pipeline's storage options
        from kappa.checkpoint.objects import register

        register(ck_root, pipeline.storage_options)
    nodes = pipeline.nodes_dict
    plans: dict[str, NodePlan] = {}
    for name in graph.topological_order():
        node = nodes[name]
        source = _source_plan(node, nodes, root, pipeline.storage_options)
        streaming = bool(source and source.streaming)
        steps = []
        refs: list[str] = []
        for i, step in enumerate(node.steps):
            if getattr(step, "expr", None) is not None:
                r = tuple(node_refs(step.expr))
                refs.extend(x for x in r if x not in refs)
                steps.append(StepPlan(index=i, kind="sql", sql=step.expr, refs=r))
            else:
                steps.append(
                    StepPlan(index=i, kind="method", func_name=step.func_name, func_args=tuple(step.func_args), func_kwargs=dict(step.func_kwargs))
                )
        specs, skipped = list(node.sinks), None
        if name in order:  # Debezium merge defaults (they may read the topic's first records)
            from kappa.cdc.sink_defaults import resolve_sinks

            specs, skipped = resolve_sinks(node, pipeline.nodes.index(node))
        state = stateful_plan(name, steps, streaming=streaming, source_kind=stateful_source_kind(source),
                              output_mode=node.output_mode)
        sinks = []
        for i, sink in enumerate(specs):
            ctx = SinkContext(node=name, index=i, streaming=streaming, app_id=f"kappa:{pipeline.name}:{name}:sink{i}",
                              resolve=lambda p: resolve_path(p, root))
            sinks.append(_with_upsert_keys(_with_storage(registry.sink_plan(sink, ctx), pipeline.storage_options, writes=True), name, state))
        ref_sources = {}
        for ref in refs:
            lookup = node.model_copy(update={"source": PipelineNodeDataSource(node_name=ref, as_stream=False)})
            ref_sources[ref] = _source_plan(lookup, nodes, root, pipeline.storage_options)
        plans[name] = NodePlan(
            name=name,
            source=source,
            steps=tuple(steps),
            expectations=tuple(ExpectationPlan(e.name, e.expr, e.action) for e in node.expectations),
            sinks=tuple(sinks),
            trigger=_trigger_plan(node.trigger or pipeline.trigger),
            layout=CheckpointLayout(f"{ck_root.rstrip('/')}/{pipeline.name}/{name}", getattr(source, "dead_letter_path", None)),
            upstreams=tuple(graph.upstream_of(name)),
            sql_refs=tuple(refs),
            ref_sources=ref_sources,
            skipped=skipped,
            state=state,
        )
    return PipelinePlan(pipeline=pipeline.name, root=str(root), checkpoint_root=ck_root, order=tuple(order), all_nodes=plans,
                        storage_options=SecretOptions(pipeline.storage_options))
