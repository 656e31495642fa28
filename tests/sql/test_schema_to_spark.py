"""The SQL translator types its input from Polars dtypes (:func:`kappa.sql._spark_names.polars_schema_to_spark`):
the same Spark names as going through Arrow and :func:`kappa.types.arrow_to_spark_ddl`, without
importing pyarrow for the common types."""

from __future__ import annotations

import polars as pl

from kappa.sql._spark_names import polars_schema_to_spark


def test_polars_types_get_the_spark_names_arrow_gives_them():
    schema = pl.Schema({
        "a": pl.String, "b": pl.Int8, "c": pl.UInt32, "d": pl.Datetime("us", "UTC"), "e": pl.Datetime("ns"),
        "f": pl.Decimal(10, 2), "g": pl.List(pl.Struct({"x": pl.Int64, "y": pl.Binary})), "h": pl.Binary,
        "i": pl.Null, "j": pl.Categorical(), "k": pl.Array(pl.Int32, 3), "l": pl.Time, "m": pl.Duration("us"),
        "n": pl.Float32, "o": pl.Date, "p": pl.Boolean, "q": pl.Enum(["a"]), "r": pl.Struct({"z": pl.List(pl.String)}),
        "t": pl.Decimal(38, 0), "v": pl.Datetime("ms", "Europe/Paris"), "w": pl.Struct({"a b": pl.Int16, "c": pl.UInt8}),
    })
    assert polars_schema_to_spark(schema) == {
        "a": "STRING", "b": "TINYINT", "c": "INT", "d": "TIMESTAMP", "e": "TIMESTAMP_NTZ", "f": "DECIMAL(10,2)",
        "g": "ARRAY<STRUCT<x: BIGINT, y: BINARY>>", "h": "BINARY", "i": "UNKNOWN", "j": "UNKNOWN", "k": "UNKNOWN",
        "l": "UNKNOWN", "m": "UNKNOWN", "n": "FLOAT", "o": "DATE", "p": "BOOLEAN", "q": "UNKNOWN",
        "r": "STRUCT<z: ARRAY<STRING>>", "t": "DECIMAL(38,0)", "v": "TIMESTAMP", "w": "STRUCT<a b: SMALLINT, c: TINYINT>",
    }
