from kappa.kafka.debezium import DebeziumBatch, _connect_types, decode_debezium  # noqa: F401  # TEMPORARY: removed at merge
