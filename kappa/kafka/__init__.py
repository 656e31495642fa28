"""Kafka layer: client config, offsets, bounded range reads, decoding (JSON values and Debezium
envelopes, :mod:`kappa.kafka.debezium`), producing.

Submodules import confluent-kafka / pyarrow / polars lazily inside functions.
"""
