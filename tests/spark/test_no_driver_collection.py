"""No driver-side collection on a node's data path (issue 9), checked on the source code.

Every call of a method that brings a DataFrame's rows to the driver (``collect``, ``toArrow``,
``toPandas``, ``toLocalIterator``, ``take``, ``head``, ``first``, ``tail``) or builds a
DataFrame from driver-side rows (``createDataFrame``) in the Spark engine and in the Spark
expectations is listed here; only the documented exceptions are allowed, each with its reason.
A new call fails this test: move the work to the executors (``mapInArrow``, a Python data
source writer, observed metrics) or add it below with the reason it is not on the data path.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTING = {"collect", "toArrow", "toPandas", "toLocalIterator", "take", "head", "first", "tail", "createDataFrame"}
SCANNED = [ROOT / "kappa/engines/spark", ROOT / "kappa/quality/spark_eval.py"]

# (file relative to the repo, function, method) -> why it is allowed
ALLOWED = {
    ("kappa/engines/spark/connectors/merge.py", "write", "toArrow"): "CDC merge sink: deltalake MERGE runs on the driver (documented)",
    ("kappa/engines/spark/connectors/upsert.py", "python_upsert", "toArrow"): "upsert sink: a large batch for a table only deltalake's MERGE can take (remote, schema change; documented)",
    ("kappa/engines/spark/upsert_exec.py", "small_batch", "toArrow"): "bounded: at most the driver budget's rows + 1 (8 MiB, Spark's broadcast rule; documented)",
    ("kappa/engines/spark/upsert_exec.py", "_statistics", "first"): "one row of batch statistics (rows, key bounds), not data",
    ("kappa/engines/spark/upsert_exec.py", "_touched", "collect"): "the names of the files holding the batch's keys (metadata)",
    ("kappa/engines/spark/upsert_exec.py", "_read", "createDataFrame"): "a partitioned table's file name -> partition values, from the Delta log (metadata)",
    ("kappa/engines/spark/connectors/upsert.py", "jvm_upsert", "first"): "one row of MERGE metrics (num_affected_rows), not data",
    ("kappa/engines/spark/decode.py", "_phase1_kinds", "collect"): "phase 1 metadata: one row of JSON kinds per Spark partition",
    ("kappa/engines/spark/decode.py", "_decode_debezium", "collect"): "phase 1 metadata: one row (Arrow schema) per Spark partition",
    ("kappa/engines/spark/jvm_merge.py", "run_plan", "first"): "one row of two counts (a MERGE's check step), not data",
}


def _calls() -> set[tuple[str, str, str]]:
    found = set()
    files = [p for base in SCANNED for p in ([base] if base.is_file() else sorted(base.rglob("*.py")))]
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in COLLECTING:
                    found.add((str(path.relative_to(ROOT)), func.name, node.func.attr))
    return found


def test_no_collection_outside_the_documented_exceptions():
    unexpected = sorted(c for c in _calls() if c not in ALLOWED)
    assert unexpected == [], "driver-side collection on a data path:\n" + "\n".join(map(str, unexpected))


def test_every_exception_is_still_needed():
    assert sorted(set(ALLOWED) - _calls()) == []
