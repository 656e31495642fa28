"""Logging of the command line: silent unless ``--verbose`` or ``--debug`` asks."""

from __future__ import annotations

import logging
import os
import sys


def configure_logging(debug: bool = False, verbose: bool = False) -> None:
    """Route kappa's logging (librdkafka's log included) to stderr when asked; silent otherwise.

    ``--debug`` shows everything down to DEBUG, ``--verbose`` INFO and up. Without either,
    librdkafka's own log lines (``kappa.librdkafka``) are dropped: its failures reach the user
    as one kappa error instead.
    """
    if debug:
        os.environ["KAPPA_DEBUG"] = "1"  # Spark's Python workers inherit it
    if debug or verbose:
        logging.basicConfig(
            level=logging.DEBUG if debug else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        logging.getLogger("kappa.librdkafka").setLevel(logging.DEBUG if debug else logging.INFO)
        # py4j logs every gateway call at DEBUG: far too much even for --debug
        logging.getLogger("py4j").setLevel(logging.INFO)
    else:
        logging.getLogger("kappa.librdkafka").setLevel(logging.CRITICAL + 1)
