"""Put ``tests/cdc`` on ``sys.path``: these tests reuse its oracle and event generators."""

from __future__ import annotations

import sys
from pathlib import Path

_CDC_TESTS = str(Path(__file__).resolve().parents[1] / "cdc")
if _CDC_TESTS not in sys.path:
    sys.path.insert(0, _CDC_TESTS)
