"""Where a node keeps its checkpoint: one frozen :class:`CheckpointLayout` per node plan.

Design. The folder layout used to be rebuilt by string concatenation in every module that
touched it; :func:`kappa.plan.build_plan` now fixes it once per node and every engine,
checkpoint and CLI module reads it from ``NodePlan.layout``. The strings are exactly those the
modules built before (existing checkpoints keep being found)::

    <checkpoint_root>/<pipeline>/.kappa.lock          pipeline lock (kappa.checkpoint.lock)
    <checkpoint_root>/<pipeline>/.kappa_event_log/    the pipeline's event log (kappa.eventlog)
    <checkpoint_root>/<pipeline>/<node>/              root
        spark/                                        Spark's checkpoint (offsets/, commits/, ...)
        spark/kappa_batches/<batch_id>.json           batch records under Spark Connect
        spark_ticks/                                  tick files of an available-now run
        replay/                                       the Polars engine's batch log
        replay/initial_offsets.json                   a stream's "latest" start, decided once
        inferred_value_schema.json                    kinds inferred for a schemaless JSON value
        spark_fingerprint.json, replay_fingerprint.json
        dead_letters/                                 dead-letter table (unless configured)

>>> layout = CheckpointLayout("/ck/pl/n")
>>> layout.spark, layout.replay_initial_offsets, layout.dead_letters
('/ck/pl/n/spark', '/ck/pl/n/replay/initial_offsets.json', '/ck/pl/n/dead_letters')
>>> layout.engine_dir("polars"), layout.fingerprint("polars"), layout.pipeline_lock
('/ck/pl/n/replay', '/ck/pl/n/replay_fingerprint.json', '/ck/pl/.kappa.lock')
"""

from __future__ import annotations

from dataclasses import dataclass

#: the folder of each engine's own checkpoint, under the node's root
ENGINE_DIRS = {"polars": "replay", "spark": "spark"}
#: the fingerprint file of each engine, under the node's root
FINGERPRINT_FILES = {"spark": "spark_fingerprint.json", "polars": "replay_fingerprint.json"}
INFERRED_FILE = "inferred_value_schema.json"
LOCK_FILE = ".kappa.lock"
#: the event log's Delta table under ``<checkpoint_root>/<pipeline>/`` (a dot: never a node's name)
EVENT_LOG = ".kappa_event_log"
BATCH_RECORDS = "kappa_batches"


@dataclass(frozen=True)
class CheckpointLayout:
    """The checkpoint folder of one node and every path kappa keeps under it."""

    root: str
    #: the dead-letter table: the Kafka source's ``dead_letter_path`` (absolute) when configured
    dead_letter_path: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.rstrip("/") or "/")

    def __str__(self) -> str:
        return self.root

    def engine_dir(self, engine: str) -> str:
        return f"{self.root}/{ENGINE_DIRS[engine]}"

    def fingerprint(self, engine: str) -> str:
        return f"{self.root}/{FINGERPRINT_FILES[engine]}"

    @property
    def spark(self) -> str:
        """Spark's checkpoint location (the query's ``checkpointLocation``)."""
        return self.engine_dir("spark")

    @property
    def spark_batches(self) -> str:
        return f"{self.spark}/{BATCH_RECORDS}"

    @property
    def spark_ticks(self) -> str:
        return f"{self.root}/spark_ticks"

    @property
    def replay(self) -> str:
        """The Polars engine's batch log."""
        return self.engine_dir("polars")

    @property
    def replay_initial_offsets(self) -> str:
        return f"{self.replay}/initial_offsets.json"

    @property
    def state_dir(self) -> str:
        """The folder of engine-neutral decoder state (the inferred JSON value kinds)."""
        return self.root

    @property
    def inferred_kinds(self) -> str:
        return f"{self.root}/{INFERRED_FILE}"

    @property
    def dead_letters(self) -> str:
        return self.dead_letter_path or f"{self.root}/dead_letters"

    @property
    def pipeline_lock(self) -> str:
        return f"{self.root.rsplit('/', 1)[0]}/{LOCK_FILE}"


def event_log_path(pipeline_folder: str) -> str:
    """The event log of a pipeline folder (``<checkpoint_root>/<pipeline>``).

    >>> event_log_path("/ck/pl/")
    '/ck/pl/.kappa_event_log'
    """
    return f"{pipeline_folder.rstrip('/')}/{EVENT_LOG}"


# ---------------------------------------------------------------- app ids
# The ids a node's Delta tables carry in their app transactions ``(app_id, batch id)``; why
# they name the engine: :mod:`kappa.checkpoint.ownership`.
def sink_app_id(engine: str, pipeline: str, node: str, index: int) -> str:
    return f"kappa:{engine}:{pipeline}:{node}:sink{index}"


def dead_letter_app_id(engine: str, pipeline: str, node: str) -> str:
    return f"kappa:{engine}:{pipeline}:{node}:dead_letters"


def legacy_app_id(pipeline: str, node: str, suffix: str) -> str:
    """The engine-less app id kappa wrote before app ids carried the engine."""
    return f"kappa:{pipeline}:{node}:{suffix}"
