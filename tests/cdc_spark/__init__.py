"""CDC MERGE sinks on the Spark engine: change feeds, Spark/Polars parity, oracle properties."""
