"""Spark SQL steps: placeholders (:mod:`.refs`), Spark->Polars translation (:mod:`.translate`),
execution on Polars (:mod:`.polars_exec`). Import the submodules; this package imports nothing heavy."""
