"""Spark types of Arrow schemas, as delta-spark stores them: what the source readers, the
executor-side decoders and the sinks agree on (a leaf module: it imports no other kappa Spark
module, so the readers and the decoders can both use it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def spark_schema_of_arrow(schema: "pa.Schema"):
    """A Spark StructType for an Arrow schema (types normalised as delta-spark stores them)."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import from_arrow_schema

    from kappa.delta.arrow import normalize_arrow_type

    return from_arrow_schema(pa.schema([pa.field(f.name, normalize_arrow_type(f.type)) for f in schema]))
