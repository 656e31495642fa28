"""Expectations: row-level Spark SQL checks with actions warn/drop/quarantine/fail.

:mod:`.polars_eval` and :mod:`.spark_eval` apply the same rules (see :mod:`.rules`) on the two
engines; :class:`.result.QualityCounts` reports what happened.
"""
