"""Pipeline and node models.

>>> from kappa.models import FileDataSource, FileDataSink
>>> node = PipelineNode(
...     name="brz",
...     source=FileDataSource(path="./in/", format="JSONL"),
...     sinks=[FileDataSink(path="./out.parquet", format="PARQUET")],
... )
>>> pl = Pipeline(name="demo", nodes=[node])
>>> list(pl.nodes_dict)
['brz']

Design note: these are the spec only. They import pydantic, their siblings, :mod:`kappa.errors`
and the SQL reference parser (through :mod:`kappa.models.checks`), never the runtime (config
loading, plan, runner, engines: ``.importlinter``). Loading YAML, ``execute()`` and node outputs
are the Python API's (:mod:`kappa.api`, ``from kappa import Pipeline``), which subclasses them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from kappa.errors import ConfigError
from kappa.models.base import KappaModel
from kappa.models.checks import check_pipeline
from kappa.models.expectations import Expectation
from kappa.models.sinks import DataSink
from kappa.models.sources import DataSource
from kappa.models.transformer import Transformer


def local_checkpoint_root(value: str) -> str:
    """A checkpoint root as kappa keeps it: a local path (``file://`` stripped) or an ``s3://``/``s3a://``
    URI (the Polars replay only: :mod:`kappa.checkpoint.objects`); a URI of any other scheme is refused
    (it must never become a local folder named ``gs:``).

    >>> local_checkpoint_root("file:///data/ck"), local_checkpoint_root("./ck"), local_checkpoint_root("s3://lake/ck")
    ('/data/ck', './ck', 's3://lake/ck')
    >>> local_checkpoint_root("gs://lake/ck")
    Traceback (most recent call last):
    ...
    ValueError: `gs://lake/ck` is an object-store URI kappa cannot keep checkpoints on: use a local or mounted folder, or s3:// (the Polars replay; README: Object storage)
    """
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value
    if scheme.lower() == "file":
        return rest
    if scheme.lower() in ("s3", "s3a"):
        return value
    raise ValueError(
        f"`{value}` is an object-store URI kappa cannot keep checkpoints on: use a local or mounted folder, "
        f"or s3:// (the Polars replay; README: Object storage)"
    )


class Trigger(KappaModel):
    """When a streaming query runs its micro-batches.

    ``available_now`` processes everything available in (possibly several) batches and stops:
    the trigger-once job. ``processing_time`` runs a batch every interval, forever.
    """

    kind: Literal["available_now", "processing_time", "once"] = Field(
        "available_now", description="available_now (default), processing_time or once."
    )
    interval: str | None = Field(None, description="For processing_time: e.g. `1 second`, `30 seconds`, `5 minutes`.")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"kind": data}
        if isinstance(data, dict) and "processing_time" in data:
            data = dict(data)
            data["interval"] = data.pop("processing_time")
            data.setdefault("kind", "processing_time")
        return data

    @model_validator(mode="after")
    def _interval(self) -> "Trigger":
        if self.kind == "processing_time" and not self.interval:
            raise ValueError("trigger processing_time needs an `interval`, e.g. `10 seconds`")
        if self.kind != "processing_time" and self.interval:
            raise ValueError(f"`interval` only applies to processing_time, not {self.kind}")
        return self


class SparkSettings(KappaModel):
    """How kappa gets its SparkSession."""

    master: str | None = Field(None, description="Master URL; default `local[*]`.")
    remote: str | None = Field(None, description="Spark Connect URL (`sc://host:15002`); overrides master.")
    conf: dict[str, str] = Field(default_factory=dict, description="Extra Spark configuration.")
    connector_profile: Literal["auto", "jvm", "python"] = Field(
        "auto", description="Kafka/Delta connectors: jvm jars, the python data sources, or auto (probe the classpath)."
    )


class PipelineNode(KappaModel):
    """One node of the DAG: read a source, transform, check expectations, write sinks."""

    name: str = Field(..., pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$", description="Unique node name (letters, digits, `_`, `-`).")
    source: DataSource | None = Field(None, description="What the node reads (a file, Delta table, Kafka topic or node).")
    transformer: Transformer | None = Field(None, description="Chain of SQL and method steps.")
    expectations: list[Expectation] = Field(default_factory=list, description="Data-quality checks on the transformed rows.")
    sinks: list[DataSink] = Field(default_factory=list, description="Where the output (and quarantined rows) are written.")
    trigger: Trigger | None = Field(None, description="Micro-batch trigger; default: the pipeline's.")
    output_mode: Literal["append", "update", "complete"] | None = Field(
        None,
        description="Streaming nodes: what each micro-batch emits (Spark's output modes). append: new rows only "
        "(a windowed aggregate emits each window once, when the watermark passes its end); update: the current "
        "value of every group the batch touched; complete: the whole aggregate. Default: append, update for an "
        "aggregate not bounded by a watermarked window.",
    )
    comment: str | None = Field(None, description="Free text describing the node.")

    @field_validator("output_mode", mode="before")
    @classmethod
    def _lower_output_mode(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("transformer", mode="before")
    @classmethod
    def _list_transformer(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"nodes": value}
        return value

    @property
    def steps(self) -> list:
        return list(self.transformer.nodes) if self.transformer else []

    @property
    def output_sinks(self) -> list:
        return [s for s in self.sinks if not s.is_quarantine]

    @property
    def quarantine_sinks(self) -> list:
        return [s for s in self.sinks if s.is_quarantine]


class Pipeline(KappaModel):
    """A named DAG of nodes.

    Build it in Python, or load YAML with :func:`kappa.config.loader.load_pipeline_file` (or the
    API's ``Pipeline.model_validate_yaml``, which also substitute ``${vars.x}`` / ``${env.X}`` and
    report errors with file, line and field).
    """

    name: str = Field(..., pattern=r"^[A-Za-z0-9_][A-Za-z0-9_\-\.]*$", description="Pipeline name; names the checkpoint folder.")
    nodes: list[PipelineNode] = Field(..., min_length=1, description="The nodes; order does not matter, the DAG decides.")
    dataframe_backend: Literal["POLARS", "PYSPARK", "SPARK"] = Field(
        "POLARS", description="Engine of `execute()`: POLARS (local replay) or PYSPARK/SPARK."
    )
    variables: dict[str, Any] = Field(default_factory=dict, description="Values for `${vars.name}` references.")
    root_path: str | None = Field(
        None,
        description="Base folder of relative paths; relative itself to the pipeline file's folder "
        "(default: the pipeline file's folder; the working directory for a pipeline built in Python).",
    )
    checkpoint_root: str | None = Field(
        None,
        description="Where node state lives: `<root>/<pipeline>/<node>/`, a local (or mounted) folder, or "
        "`s3://bucket/prefix` for the Polars replay (with the pipeline's `storage_options`; Spark needs a local root). "
        "Default `$KAPPA_CHECKPOINT_ROOT` or `./checkpoints`.",
    )
    storage_options: dict[str, str] = Field(
        default_factory=dict,
        description="Object-store options (e.g. `AWS_ENDPOINT_URL`, keys as `${env.NAME}` references) of every "
        "Delta table on an object-store URI: sources, sinks, dead-letter and quarantine tables; a source's or "
        "sink's own `storage_options` override them key by key.",
    )
    trigger: Trigger = Field(default_factory=Trigger, description="Default trigger of every node.")
    spark: SparkSettings = Field(default_factory=SparkSettings, description="Spark session settings.")

    _base_dir: str | None = PrivateAttr(None)  # folder of the YAML file it was loaded from
    _source_file: str | None = PrivateAttr(None)  # that file (run-time static checks name its lines)

    def __eq__(self, other: object) -> bool:
        """Equal specs: the file a pipeline was loaded from (and the API's last run) are not compared."""
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @field_validator("dataframe_backend", mode="before")
    @classmethod
    def _upper_backend(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("checkpoint_root")
    @classmethod
    def _local_checkpoint_root(cls, value: str | None) -> str | None:
        if value is not None:
            return local_checkpoint_root(value)
        return value

    @model_validator(mode="after")
    def _check_graph(self) -> "Pipeline":
        issues = check_pipeline(self)
        if issues:
            raise ConfigError(issues)
        return self

    @property
    def nodes_dict(self) -> dict[str, PipelineNode]:
        """Nodes by name."""
        return {n.name: n for n in self.nodes}
