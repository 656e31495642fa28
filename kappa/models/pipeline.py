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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from kappa.models.base import KappaModel
from kappa.models.expectations import Expectation
from kappa.models.sinks import DataSink
from kappa.models.sources import DataSource
from kappa.models.transformer import Transformer

if TYPE_CHECKING:  # pragma: no cover
    from kappa.run import PipelineRunSummary


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
    comment: str | None = Field(None, description="Free text describing the node.")

    _output_df: Any = PrivateAttr(None)
    _quarantine_df: Any = PrivateAttr(None)

    @field_validator("transformer", mode="before")
    @classmethod
    def _list_transformer(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {"nodes": value}
        return value

    @property
    def output_df(self) -> Any:
        """The node's output after ``Pipeline.execute()`` (a Polars LazyFrame on the Polars engine)."""
        return self._output_df

    @property
    def quarantine_df(self) -> Any:
        """Rows that failed a quarantine expectation in the last execution, or None."""
        return self._quarantine_df

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

    Build it in Python, or load YAML with :meth:`model_validate_yaml` (which also substitutes
    ``${vars.x}`` / ``${env.X}`` and reports errors with file, line and field).
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
        None, description="Where node state lives: `<root>/<pipeline>/<node>/`. Default `$KAPPA_CHECKPOINT_ROOT` or `./checkpoints`."
    )
    trigger: Trigger = Field(default_factory=Trigger, description="Default trigger of every node.")
    spark: SparkSettings = Field(default_factory=SparkSettings, description="Spark session settings.")

    _last_run: Any = PrivateAttr(None)
    _base_dir: str | None = PrivateAttr(None)  # folder of the YAML file it was loaded from

    def __eq__(self, other: object) -> bool:
        """Equal specs: the file a pipeline was loaded from and its last run are not compared."""
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    @field_validator("dataframe_backend", mode="before")
    @classmethod
    def _upper_backend(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_graph(self) -> "Pipeline":
        from kappa.graph import check_pipeline
        from kappa.errors import ConfigError

        issues = check_pipeline(self)
        if issues:
            raise ConfigError(issues)
        return self

    # ---- laktory-compatible API -------------------------------------------------------
    @property
    def nodes_dict(self) -> dict[str, PipelineNode]:
        """Nodes by name."""
        return {n.name: n for n in self.nodes}

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> "Pipeline":  # type: ignore[override]
        """Validate a mapping, or (as laktory allows) an open YAML file."""
        if hasattr(obj, "read"):
            return cls.model_validate_yaml(obj)
        return super().model_validate(obj, *args, **kwargs)

    @classmethod
    def model_validate_yaml(cls, source: Any, *, path: str | None = None, variables: dict[str, Any] | None = None) -> "Pipeline":
        """Load YAML text or an open file; errors name file, line and field."""
        from kappa.config.loader import load_pipeline_text, with_base_dir

        file_name = None
        if hasattr(source, "read"):
            file_name = getattr(source, "name", None)
            path = path or file_name
            source = source.read()
        pipeline = load_pipeline_text(source, path=path, variables=variables)
        return with_base_dir(pipeline, file_name) if isinstance(file_name, str) else pipeline

    def model_dump_yaml(self) -> str:
        """Serialise to YAML (the inverse of :meth:`model_validate_yaml`)."""
        from kappa.config.loader import dump_yaml

        return dump_yaml(self)

    def execute(self, select: list[str] | None = None, engine: str | None = None, full_refresh: bool = False) -> "PipelineRunSummary":
        """Run the pipeline once (Polars replay by default); node outputs land on ``nodes_dict[name].output_df``."""
        from kappa.run import execute_pipeline

        summary = execute_pipeline(self, select=select, engine=engine, full_refresh=full_refresh)
        self._last_run = summary
        return summary
