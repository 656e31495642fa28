"""Logging of the command line: warnings only unless ``--verbose`` or ``--debug`` asks, errors
only with ``--quiet``; ``--log-format json`` writes each record as one JSON line on stderr.

Design note: the root callback calls :func:`configure_logging` once per command; the commands
read :data:`OUTPUT` (quiet? JSON log lines?) to decide what else they print (progress, the Spark
log file's path). Spark's and py4j's own logs never reach the terminal during a Spark run: they
go to a file (:func:`kappa.runner.session.spark_log_file`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass

LOG_FORMATS = ("text", "json")


@dataclass
class Output:
    """What the root options asked for (read by the commands)."""

    quiet: bool = False
    log_format: str = "text"


OUTPUT = Output()


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO-8601 UTC), level, logger, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime as dt

        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def configure_logging(debug: bool = False, verbose: bool = False, quiet: bool = False, log_format: str = "text") -> None:
    """Route kappa's logging (librdkafka's log included) to stderr at the level asked for.

    ``--debug`` shows everything down to DEBUG, ``--verbose`` INFO and up, ``--quiet`` errors
    only, else warnings. Without ``--debug``/``--verbose``, librdkafka's own log lines
    (``kappa.librdkafka``) are dropped: its failures reach the user as one kappa error instead.
    """
    from kappa.errors import ConfigError

    if log_format not in LOG_FORMATS:
        raise ConfigError(f"--log-format {log_format}: expected text or json")
    OUTPUT.quiet, OUTPUT.log_format = quiet and not (debug or verbose), log_format
    if debug:
        os.environ["KAPPA_DEBUG"] = "1"  # Spark's Python workers inherit it
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.ERROR if quiet else logging.WARNING
    if debug or verbose or quiet or log_format == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        for old in [h for h in root.handlers if getattr(h, "_kappa", False)]:
            root.removeHandler(old)
        handler._kappa = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(level)
        # py4j logs every gateway call at DEBUG: far too much even for --debug
        logging.getLogger("py4j").setLevel(logging.INFO)
    if debug or verbose:
        logging.getLogger("kappa.librdkafka").setLevel(level)
    else:
        logging.getLogger("kappa.librdkafka").setLevel(logging.CRITICAL + 1)
