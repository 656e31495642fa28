"""A Python stream reader's initial offset, decided once per query checkpoint.

PySpark 4.2 calls ``DataSourceStreamReader.initialOffset()`` again when it runs batch 0 and on a
restart before batch 0 commits. A reader whose initial offset moves (Kafka ``latest``, a Delta
table's current version) would then plan batch 0 from one value and run it from another:
records skipped or read twice, or "offset went backwards". kappa's sources therefore receive
the query's checkpoint folder as the reader option :data:`CHECKPOINT_OPTION` (set by
:meth:`kappa.engines.spark.connectors.base.SourceReader.build_stream`) and keep the first resolved value in
``<checkpointLocation>/kappa/initial_offset_<name>.json`` (see :mod:`kappa.initial`)::

    def initialOffset(self):
        return initial_offset(self.checkpoint, "kappa_kafka", self._resolve_initial)

Without the option (a query built by hand) or with a remote checkpoint the value is computed
on every call, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

#: reader option carrying the query's checkpointLocation (kappa sets it; users need not)
CHECKPOINT_OPTION = "kappaCheckpointLocation"


def initial_offset_path(checkpoint_location: str, name: str) -> Path:
    """Where the initial offset of source ``name`` is kept under a query checkpoint."""
    location = checkpoint_location.removeprefix("file://")
    return Path(location) / "kappa" / f"initial_offset_{name}.json"


def initial_offset(checkpoint_location: str | None, name: str, compute: Callable[[], Any]) -> Any:
    """The initial offset of source ``name``: kept from the first call, else ``compute()``."""
    if not checkpoint_location or ("://" in checkpoint_location and not checkpoint_location.startswith("file://")):
        return compute()
    from kappa.initial import decide_once

    return decide_once(initial_offset_path(checkpoint_location, name), compute)
