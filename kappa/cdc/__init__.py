"""CDC MERGE sink core (AUTO CDC / APPLY CHANGES, SCD type 1 and 2) and the Debezium defaults.

Modules: :mod:`kappa.cdc.merge` (``apply_changes``), :mod:`kappa.cdc.defaults` and
:mod:`kappa.cdc.sink_defaults` (keys and sequence of a Debezium source). Debezium decoding is
in the Kafka layer (:mod:`kappa.kafka.debezium`); replication configs are a front-end that
produces a pipeline (:mod:`kappa.replication`); Delta commits go through
:mod:`kappa.delta.txn`. Nothing heavy is imported here.
"""
