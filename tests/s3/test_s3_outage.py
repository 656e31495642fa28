"""An S3 endpoint that does not answer (the server killed mid-write, benchmarks/drill_outages.py
``--scenario s3_kill``): the run stops within a bounded time with one line naming the node, the
sink, the table and delta-rs's innermost cause, not its multi-line, colour-coded chain."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import pyarrow as pa
from deltalake import write_deltalake

from kappa.broker import free_port
from tests.helpers.cli import REPO

PIPELINE = """\
name: s3down
checkpoint_root: {root}/ck
storage_options:
  AWS_ENDPOINT_URL: http://127.0.0.1:{port}
  AWS_ALLOW_HTTP: "true"
  AWS_REGION: us-east-1
  AWS_ACCESS_KEY_ID: k
  AWS_SECRET_ACCESS_KEY: s
nodes:
  - name: orders
    source: {{path: {root}/src, format: DELTA}}
    sinks:
      - {{path: s3://lake/orders, format: DELTA, mode: append}}
"""


def test_a_dead_s3_endpoint_stops_the_run_with_one_line(tmp_path):
    write_deltalake(str(tmp_path / "src"), pa.table({"id": [1, 2]}))
    port = free_port("127.0.0.1")  # nothing listens there
    (tmp_path / "pipeline.yaml").write_text(PIPELINE.format(root=tmp_path, port=port))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "kappa.cli", "replay", str(tmp_path / "pipeline.yaml")],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    seconds = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in done.stderr and "\x1b[" not in done.stderr, done.stderr
    pattern = (r"error: node 'orders' sink 0: cannot write Delta table s3://lake/orders: Kernel error -> Generic S3 error: "
               rf"Error performing GET http://127\.0\.0\.1:{port}/lake/orders/_delta_log/\S+ in [\d.]+m?s, after 10 retries, "
               r"max_retries: 10, retry_timeout: 180s +- HTTP error: error sending request: client error \(Connect\): "
               r"tcp connect error: Connection refused \(os error 111\)")
    assert re.fullmatch(pattern, errors[0]), errors[0]
    assert seconds < 60  # delta-rs gives up on a refused connection after 10 quick retries (~6 s)
