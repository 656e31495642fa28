"""Driver of the crash tests: runs a pipeline on the Spark engine in its own process.

``python crash_driver.py PIPELINE.yaml stream`` starts every node's query with a 1-second
processing-time trigger and runs until killed (failpoints from ``KAPPA_FAILPOINTS`` kill it
from inside a batch). ``python crash_driver.py PIPELINE.yaml drain`` runs the pipeline once
(availableNow) and prints the per-node output row counts as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> None:
    path, mode = sys.argv[1], sys.argv[2]
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from kappa.config.loader import load_pipeline_file
    from kappa.engines.spark.compiler import compile_plan
    from kappa.engines.spark.engine import SparkEngine
    from kappa.engines.spark.session import get_or_create_session
    from kappa.models import Trigger
    from kappa.plan import build_plan

    pipeline = load_pipeline_file(path)
    spark = get_or_create_session(master="local[2]", app_name="kappa-crash")
    plan = build_plan(pipeline)
    if mode == "drain":
        summary = SparkEngine(spark=spark, profile="python").run(pipeline, plan)
        print(json.dumps({n.node: n.output_rows for n in summary.nodes}), flush=True)
        return
    queries = []
    for compiled in compile_plan(spark, plan, "python"):
        while True:
            try:
                queries.append(compiled.start(Trigger(kind="processing_time", interval="1 second")))
                break
            except Exception:  # noqa: BLE001 - the upstream table may not exist yet
                time.sleep(0.5)
    print("started", flush=True)
    while True:
        for q in queries:
            if q.exception() is not None:
                print(f"query failed: {q.exception()}", file=sys.stderr, flush=True)
                sys.exit(3)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
