"""Kafka layer: client config, offsets, bounded range reads, JSON decoding, producing.

Submodules import confluent-kafka / pyarrow / polars lazily inside functions.
"""
