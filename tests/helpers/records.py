"""Generators of the JSON events the pipeline tests produce to Kafka, and what they must give.

The CDC change events live in :mod:`tests.helpers.cdc_events`, Debezium records in
:mod:`tests.helpers.debezium`.
"""

from __future__ import annotations


def price_records(start: int, stop: int) -> list[dict]:
    """Events ``id, symbol, price`` for ids ``[start, stop)`` (the input of
    :data:`tests.helpers.pipelines.KAFKA_BRONZE_SILVER`): symbol null when i % 10 == 3,
    price <= 0 when i % 10 == 7."""
    out = []
    for i in range(start, stop):
        out.append({"id": i, "symbol": None if i % 10 == 3 else f"s{i % 4}", "price": -1.0 if i % 10 == 7 else float(i) + 0.5})
    return out


def price_expected(n: int) -> dict[str, int]:
    """Row counts :data:`~tests.helpers.pipelines.KAFKA_BRONZE_SILVER` must give for
    ``price_records(0, n)``: bronze, silver, quarantined and dropped rows."""
    nulls = sum(1 for i in range(n) if i % 10 == 3)
    negative = sum(1 for i in range(n) if i % 10 == 7)
    return {"brz": n, "slv": n - nulls - negative, "quarantine": negative, "dropped": nulls}
