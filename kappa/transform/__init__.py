"""DataFrame method steps (:mod:`.methods`), applied through narwhals on Polars and Spark frames."""
