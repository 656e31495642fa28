"""Helpers shared by the test folders (import them as ``tests.helpers.<module>``).

- :mod:`~tests.helpers.engines`: run a pipeline on one engine (``run_polars``/``run_spark``,
  the ``Engine`` the ``engine`` fixture of tests/conftest.py hands each test);
- :mod:`~tests.helpers.pipelines`: builders of the pipeline shapes the tests repeat (YAML
  templates rendered under a test's folder, Kafka -> bronze -> silver, the crash pipeline);
- :mod:`~tests.helpers.tables`: read a Delta table / part files back as rows in a canonical
  order, and assert one engine's table equals an expected table (rows and schema);
- :mod:`~tests.helpers.properties`: hypothesis property tests at two depths (few examples in
  ``make test``, the full count under ``slow``);
- :mod:`~tests.helpers.cdc_oracle`, :mod:`~tests.helpers.cdc_events`: the AUTO CDC reference
  model and change-event tables / hypothesis generators (plain and Debezium feeds);
- :mod:`~tests.helpers.debezium`: realistic Debezium Postgres topics on a real broker (the
  ``inventory`` fixture's builders);
- :mod:`~tests.helpers.checkpoints`: hand-made Spark checkpoints;
- :mod:`~tests.helpers.cli`: ``python -m kappa.cli`` in a subprocess;
- :mod:`~tests.helpers.examples`: the stock-prices example's generator and expected tables.

Nothing heavy is imported at import time (pyspark, polars and deltalake load inside functions
where a module can avoid them).
"""
