"""A producer thread that keeps producing while a test runs a pipeline (live-producer tests)."""

from __future__ import annotations

import json
import threading
import time
from typing import Self


class SteadyProducer:
    """Produces JSON records ``{"id": i, "symbol": ..., "price": ...}`` (``i`` from ``first``,
    ``per_tick`` every ``tick_s`` seconds) until the ``with`` block ends; ``next_id - first``
    records were produced (all delivered) once it has ended."""

    def __init__(self, bootstrap: str, topic: str, first: int = 0, per_tick: int = 4, tick_s: float = 0.01):
        self.bootstrap, self.topic, self.first, self.next_id = bootstrap, topic, first, first
        self.per_tick, self.tick_s = per_tick, tick_s
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from confluent_kafka import Producer

        from kappa.testing.kafka import conf_for

        try:
            producer = Producer({**conf_for(self.bootstrap), "linger.ms": 5})
            while not self._stop.is_set():
                for _ in range(self.per_tick):
                    i = self.next_id
                    value = {"id": i, "name": f"n{i}", "symbol": f"s{i % 4}", "price": i + 0.5}
                    producer.produce(self.topic, json.dumps(value).encode())
                    self.next_id += 1
                producer.poll(0)
                time.sleep(self.tick_s)
            if producer.flush(30) != 0:
                raise RuntimeError("records left undelivered")
        except BaseException as exc:  # noqa: BLE001 - reported by __exit__
            self.error = exc

    @property
    def produced(self) -> int:
        return self.next_id - self.first

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(60)
        if self.error is not None and exc[0] is None:
            raise self.error
